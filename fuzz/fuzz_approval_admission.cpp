// The PoetryApproval admission webhook's decision: any body the listener accepts (the API server's
// AdmissionReview, or whatever reaches the port) goes through review_approval_admission and, when
// it decides, through the response encoder.
#include <poetryops/api/admission.hpp>

#include <cstdint>
#include <string_view>

using namespace poetryops::api;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto decided =
        review_approval_admission(std::string_view(reinterpret_cast<const char*>(data), size));
    if (decided) (void)admission_review_response(*decided).dump();
    return 0;
}
