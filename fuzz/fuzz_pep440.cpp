// PEP 440 versions: the input is "A\nB"; both are parsed, printed, re-parsed and compared.
#include <poetryops/python/version.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace poetryops::python;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nl = input.find('\n');
    const std::string_view a = input.substr(0, nl);
    const std::string_view b = nl == std::string_view::npos ? a : input.substr(nl + 1);
    auto va = parse_version(a);
    auto vb = parse_version(b);
    if (va) {
        // The normal form reads back as the same version.
        auto again = parse_version(va->str());
        if (!again || compare(*again, *va) != 0) std::abort();
    }
    if (va && vb) {
        if ((compare(*va, *vb) < 0) != (compare(*vb, *va) > 0)) std::abort();
    }
    return 0;
}
