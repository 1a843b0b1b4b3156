// kubeconfig reader: the input is the YAML text. Relative paths resolve under a folder that does
// not exist, so file references fail instead of reading this machine's files.
#include <poetryops/kube/config.hpp>

#include <cstdint>
#include <string_view>

using namespace poetryops::kube;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)parse_kubeconfig(text, "fuzz-kubeconfig", "/nonexistent/poetryops-fuzz");
    (void)parse_kubeconfig(text, "fuzz-kubeconfig", "/nonexistent/poetryops-fuzz", "dev");
    return 0;
}
