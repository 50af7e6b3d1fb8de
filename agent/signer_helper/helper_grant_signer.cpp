#include "agent/signer_helper/helper_grant_signer.h"

#include "agent/signer_helper/helper_supervisor.h"

namespace mpa::signer_helper {

GenerationLease::GenerationLease(std::shared_ptr<HelperSupervisor> supervisor, std::uint64_t generation)
    : supervisor_(std::move(supervisor)), generation_(generation) {}

GenerationLease::~GenerationLease() { supervisor_->release(generation_); }

HelperGrantSigner::HelperGrantSigner(std::shared_ptr<HelperSupervisor> supervisor, std::size_t index,
                                     std::vector<Bytes> chain, std::shared_ptr<GenerationLease> lease)
    : supervisor_(std::move(supervisor)), index_(index), chain_(std::move(chain)), lease_(std::move(lease)) {}

Result<Bytes> HelperGrantSigner::sign(JwsAlg alg, std::string_view data) {
  return supervisor_->sign(index_, alg, data);
}

SignerInfo HelperGrantSigner::info() const { return supervisor_->info(index_); }

}  // namespace mpa::signer_helper
