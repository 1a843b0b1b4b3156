// Registry push webhooks in all six formats (distribution, Docker Hub, GitHub packages, Harbor,
// Quay, CloudEvents) and auto-detection: the first byte picks the format, the rest is the body.
#include <poetryops/registry/webhook.hpp>

#include <cstdint>
#include <string_view>

using namespace poetryops::registry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const WebhookFormat formats[] = {WebhookFormat::auto_detect, WebhookFormat::distribution,
                                     WebhookFormat::docker_hub,  WebhookFormat::github,
                                     WebhookFormat::harbor,      WebhookFormat::quay,
                                     WebhookFormat::cloudevents};
    const auto format = formats[data[0] % 7];
    (void)parse_webhook(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1),
                        format);
    return 0;
}
