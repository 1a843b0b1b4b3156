#include <poetryops/registry/tag_template.hpp>

#include <poetryops/oci/grammar.hpp>
#include <poetryops/python/version.hpp>

#include <ctime>

namespace poetryops::registry {
namespace {

constexpr std::string_view known[] = {"version", "shortSha",    "sha",
                                      "branch",  "buildNumber", "timestamp"};

std::string format_timestamp(Clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    return buf;
}

// Calls on_text / on_placeholder for each piece; fails on unbalanced braces or an unknown name.
template <class Text, class Placeholder>
Result<void> scan(std::string_view tmpl, Text on_text, Placeholder on_placeholder) {
    std::size_t i = 0;
    while (i < tmpl.size()) {
        auto open = tmpl.find_first_of("{}", i);
        if (open == std::string_view::npos) {
            on_text(tmpl.substr(i));
            break;
        }
        if (tmpl[open] == '}') {
            return fail(Error::Kind::invalid,
                        "tag template '" + std::string(tmpl) + "' has an unmatched '}'");
        }
        on_text(tmpl.substr(i, open - i));
        auto close = tmpl.find('}', open);
        if (close == std::string_view::npos) {
            return fail(Error::Kind::invalid,
                        "tag template '" + std::string(tmpl) + "' has an unclosed '{'");
        }
        auto name = tmpl.substr(open + 1, close - open - 1);
        bool ok_name = false;
        for (auto k : known) ok_name = ok_name || k == name;
        if (!ok_name) {
            return fail(
                Error::Kind::invalid,
                "tag template '" + std::string(tmpl) + "' uses unknown placeholder {" +
                    std::string(name) +
                    "} (known: {version} {shortSha} {sha} {branch} {buildNumber} {timestamp})");
        }
        POETRYOPS_TRY_VOID(on_placeholder(name));
        i = close + 1;
    }
    return ok();
}

}  // namespace

Result<void> validate_tag_template(std::string_view tmpl) {
    if (tmpl.empty()) return fail(Error::Kind::invalid, "empty tag template");
    return scan(
        tmpl, [](std::string_view) {}, [](std::string_view) { return ok(); });
}

Result<std::string> render_tag(std::string_view tmpl, const TagValues& values) {
    if (tmpl.empty()) return fail(Error::Kind::invalid, "empty tag template");
    std::string out;
    auto placeholder = [&](std::string_view name) -> Result<void> {
        std::string v;
        if (name == "version") {
            v = values.version;
        } else if (name == "sha") {
            v = values.sha;
        } else if (name == "shortSha") {
            v = values.sha.substr(0, 7);
        } else if (name == "branch") {
            v = values.branch;
        } else if (name == "buildNumber") {
            v = values.build_number;
        } else if (name == "timestamp") {
            if (values.timestamp != Clock::time_point{}) v = format_timestamp(values.timestamp);
        }
        if (v.empty()) {
            return fail(Error::Kind::invalid, "tag template '" + std::string(tmpl) +
                                                  "': no value for {" + std::string(name) + "}");
        }
        out += v;
        return ok();
    };
    POETRYOPS_TRY_VOID(scan(
        tmpl, [&](std::string_view text) { out += text; }, placeholder));
    auto tag = oci::sanitize_tag(out);
    if (tag.empty() || !oci::is_valid_tag(tag)) {
        return fail(Error::Kind::invalid, "tag template '" + std::string(tmpl) + "' renders to '" +
                                              out + "', which cannot be made a valid OCI tag");
    }
    return tag;
}

}  // namespace poetryops::registry
