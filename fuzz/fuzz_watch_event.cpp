// Kubernetes watch stream decoder: the input is the stream, fed in chunks whose sizes come from
// the input's first byte, then finish(); and the first line through decode_watch_event().
#include <poetryops/kube/watch_decoder.hpp>

#include <algorithm>
#include <cstdint>
#include <string_view>

using namespace poetryops::kube;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    (void)decode_watch_event(stream.substr(0, stream.find('\n')));
    WatchDecoder decoder(64 * 1024);
    auto sink = [](WatchEvent&& event) { (void)event.object.dump(); };
    for (std::size_t pos = 0; pos < stream.size(); pos += chunk) {
        if (!decoder.feed(stream.substr(pos, std::min(chunk, stream.size() - pos)), sink)) return 0;
    }
    (void)decoder.finish(sink);
    return 0;
}
