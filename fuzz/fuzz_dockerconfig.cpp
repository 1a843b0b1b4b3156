// dockerconfigjson / config.json / legacy .dockercfg reader, then a credentials lookup.
#include <poetryops/registry/auth.hpp>

#include <cstdint>
#include <string_view>

using namespace poetryops::registry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto config = DockerConfig::parse(text, "fuzz .dockerconfigjson")) {
        (void)config->find("docker.io");
        (void)config->find("127.0.0.1:5000");
    }
    return 0;
}
