#include <poetryops/cli/errors.hpp>

#include <poetryops/util/log.hpp>

#include <iostream>

namespace poetryops::cli {

namespace {
std::string& program() {
    static std::string name = "poetryops";
    return name;
}
}  // namespace

void set_program_name(std::string_view name) { program() = std::string(name); }

const std::string& program_name() { return program(); }

Exit exit_for(const Error& error) {
    switch (error.kind) {
        case Error::Kind::decode:
        case Error::Kind::invalid:
        case Error::Kind::not_found:
        case Error::Kind::conflict:
        case Error::Kind::unauthorized: return Exit::bad_input;
        case Error::Kind::transport:
        case Error::Kind::timeout:
        case Error::Kind::http:
        case Error::Kind::gone:
        case Error::Kind::internal: return Exit::failure;
    }
    return Exit::failure;
}

void say(std::string_view command, std::string_view text) {
    std::string line = log::redact(text);
    for (char& c : line) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    std::string out = program();
    if (!command.empty()) out += " " + std::string(command);
    out += ": " + line + "\n";
    std::cerr << out << std::flush;
}

Exit report(std::string_view command, const Error& error) {
    return report(command, error, exit_for(error));
}

Exit report(std::string_view command, const Error& error, Exit code) {
    say(command, error.message);
    return code;
}

Exit report_bad_input(std::string_view command, std::string_view message) {
    say(command, message);
    return Exit::bad_input;
}

}  // namespace poetryops::cli
