#include <poetryops/util/stale.hpp>

#include <unistd.h>

#include <cctype>

namespace poetryops {

namespace fs = std::filesystem;

std::string owned_temp_marker(std::string_view marker) {
    return std::string(marker) + std::to_string(::getpid());
}

namespace {

/// The pid written after `marker` in `name` ("MARKER<pid>-…"), or 0.
long owner_of(const std::string& name, const std::string& marker) {
    auto at = name.find(marker);
    if (at == std::string::npos) return 0;
    std::size_t i = at + marker.size(), start = i;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
    if (i == start || i - start > 9 || i >= name.size() || name[i] != '-') return 0;
    return std::stol(name.substr(start, i - start));
}

}  // namespace

std::size_t remove_stale_temps(const fs::path& dir, const std::vector<std::string>& markers) {
    std::size_t removed = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        for (const auto& marker : markers) {
            long pid = owner_of(name, marker);
            if (pid <= 0 || pid == ::getpid()) continue;
            std::error_code gone;
            if (fs::exists(fs::path("/proc") / std::to_string(pid), gone) || gone) continue;
            std::error_code rm;
            if (fs::remove_all(it->path(), rm) > 0 && !rm) ++removed;
            break;
        }
    }
    return removed;
}

}  // namespace poetryops
