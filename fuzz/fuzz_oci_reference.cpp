// OCI / distribution references: registry::parse_reference and parse_repository, manifest's
// image_ref, and the oci:: grammar helpers on the same text.
#include <poetryops/manifest/image_ref.hpp>
#include <poetryops/oci/grammar.hpp>
#include <poetryops/registry/reference.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)poetryops::registry::parse_reference(text);
    (void)poetryops::registry::parse_repository(text);
    (void)poetryops::manifest::parse_image_ref(text);
    (void)poetryops::manifest::parse_image_name(text);
    (void)poetryops::oci::validate_digest(text);
    (void)poetryops::oci::is_valid_tag(text);
    (void)poetryops::oci::sanitize_tag(text);
    (void)poetryops::oci::is_valid_host(text);
    return 0;
}
