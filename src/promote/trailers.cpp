#include <poetryops/promote/trailers.hpp>

namespace poetryops::promote {

std::string promotion_trailer_value(const api::PoetryApp& app, std::string_view environment,
                                    std::string_view digest) {
    std::string ns = app.metadata.namespace_.empty() ? "default" : app.metadata.namespace_;
    return ns + "/" + app.metadata.name + "/" + std::string(environment) + "/" +
           std::string(digest);
}

std::pair<std::string, std::string> promotion_trailer(const api::PoetryApp& app,
                                                      std::string_view environment,
                                                      std::string_view digest) {
    return {std::string(kPromotionTrailer), promotion_trailer_value(app, environment, digest)};
}

std::pair<std::string, std::string> canary_trailer(const api::PoetryApp& app,
                                                   std::string_view environment,
                                                   const canary::Action& action) {
    std::string ns = app.metadata.namespace_.empty() ? "default" : app.metadata.namespace_;
    return {std::string(kCanaryTrailer),
            canary::trailer(ns + "/" + app.metadata.name, std::string(environment), action)};
}

std::vector<std::pair<std::string, std::string>> approved_by_trailers(
    const std::vector<std::string>& approved_by) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& who : approved_by) {
        std::string value = who;
        for (char& c : value) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
        }
        out.emplace_back(std::string(kApprovedByTrailer), std::move(value));
    }
    return out;
}

}  // namespace poetryops::promote
