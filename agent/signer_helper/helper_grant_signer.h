// The GrantSigner the engine sees for one key of a signer helper: every
// signature and status question goes to the HelperSupervisor of the
// helper that holds the key. Private to agent/signer_helper.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/grant_signer.h"

namespace mpa::signer_helper {

class HelperSupervisor;

// While it lives, its configuration's signing policy stays in the helper
// (the supervisor takes it back when the last signer holding it goes).
class GenerationLease final {
 public:
  GenerationLease(std::shared_ptr<HelperSupervisor> supervisor, std::uint64_t generation);
  // Releases its generation once, in its destructor.
  GenerationLease(const GenerationLease&) = delete;
  GenerationLease& operator=(const GenerationLease&) = delete;
  ~GenerationLease();

 private:
  const std::shared_ptr<HelperSupervisor> supervisor_;
  const std::uint64_t generation_;
};

class HelperGrantSigner final : public GrantSigner {
 public:
  HelperGrantSigner(std::shared_ptr<HelperSupervisor> supervisor, std::size_t index,
                    std::vector<Bytes> chain, std::shared_ptr<GenerationLease> lease);

  Result<Bytes> sign(JwsAlg alg, std::string_view data) override;
  const std::vector<Bytes>& certificate_chain() const override { return chain_; }
  SignerInfo info() const override;

 private:
  const std::shared_ptr<HelperSupervisor> supervisor_;
  const std::size_t index_;  // the key's place in the helper's setup
  const std::vector<Bytes> chain_;
  const std::shared_ptr<GenerationLease> lease_;
};

}  // namespace mpa::signer_helper
