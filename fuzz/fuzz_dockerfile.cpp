// Dockerfile parser and linter: the whole input is the Dockerfile (as `poetryops lint` reads it).
#include <poetryops/dockerfile/linter.hpp>
#include <poetryops/dockerfile/parser.hpp>

#include <cstdint>
#include <string_view>

using namespace poetryops::dockerfile;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)parse(text, "Dockerfile");
    LintContext context;
    context.dockerignore = ".venv\n.git\n";
    context.dockerignore_known = true;
    (void)lint(text, context);
    return 0;
}
