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

}  // namespace poetryops::promote
