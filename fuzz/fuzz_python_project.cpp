// pyproject.toml and poetry.lock readers: the input is "PYPROJECT\0POETRY_LOCK" (no NUL: no lock).
#include <poetryops/python/project.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

using namespace poetryops::python;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nul = input.find('\0');
    const std::string_view pyproject = input.substr(0, nul);
    std::optional<std::string_view> lock;
    if (nul != std::string_view::npos) lock = input.substr(nul + 1);
    (void)parse_pyproject(pyproject, "pyproject.toml");
    if (lock) (void)parse_lock(*lock, "poetry.lock");
    if (auto project = parse_project(pyproject, lock, "services/api"); project && project->has_lock)
        (void)check_lock_fresh(*project);
    return 0;
}
