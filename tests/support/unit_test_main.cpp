// The Boost.Test runner's main() and init function, compiled once and linked
// into every unit test executable; the test files hold only test cases.
#define BOOST_TEST_MODULE maskinporten-agent
#include <boost/test/unit_test.hpp>
