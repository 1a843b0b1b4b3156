// Lint driver: parse, run the rules, apply `# poetryops: ignore=` comments, format text and JSON.
#include <poetryops/dockerfile/linter.hpp>

#include "dockerfile/detail/analysis.hpp"

#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace poetryops::dockerfile {

const std::vector<RuleInfo>& rules() {
    static const std::vector<RuleInfo> all = {
        {"venv-in-project", "Poetry creates the venv in the project (/app/.venv)"},
        {"dockerignore",
         "a .dockerignore keeps .venv, .git, caches and env files out of the context"},
        {"no-dev-deps", "install only the main dependency group"},
        {"venv-on-path", "the venv is on PATH; CMD/ENTRYPOINT never use `poetry run`"},
        {"multi-stage",
         "Poetry stays in a build stage; the final stage gets the venv and the code"},
        {"pin-poetry", "Poetry installed at a pinned version, POETRY_NO_INTERACTION=1"},
        {"lock-first",
         "copy pyproject.toml + poetry.lock, install with --no-root, then copy the code"},
        {"cache-mounts",
         "package installs use BuildKit cache mounts (with # syntax=docker/dockerfile:1)"},
        {"non-root", "a numeric non-root USER; files copied with --chown"},
        {"pin-base", "base images pinned (tag, digest when known); same Python in every stage"},
        {"no-secrets",
         "no credentials in ARG/ENV, URLs or copied files; use RUN --mount=type=secret"},
        {"env-python",
         "PYTHONUNBUFFERED=1, PYTHONDONTWRITEBYTECODE=1, bytecode compiled at build time"},
        {"exec-form", "exec-form CMD/ENTRYPOINT and an init (tini) as PID 1"},
        {"no-healthcheck", "no HEALTHCHECK (Kubernetes uses probes)"},
        {"apt-hygiene",
         "apt-get install --no-install-recommends and rm -rf /var/lib/apt/lists/* in the same RUN"},
        {"copy-not-add", "COPY rather than ADD for local files; absolute WORKDIR"},
    };
    return all;
}

bool is_rule(std::string_view id) {
    for (const auto& r : rules()) {
        if (r.id == id) return true;
    }
    return false;
}

namespace {

/// Rule ids named by a `poetryops: ignore=a,b` comment; empty when the comment is something else.
std::vector<std::string> ignore_ids(const std::string& comment) {
    static const std::regex re(
        R"(^poetryops:\s*ignore\s*=\s*([A-Za-z0-9_,\s-]+?)(\s+--.*|\s+\(.*|\s*$))");
    std::smatch m;
    if (!std::regex_match(comment, m, re)) return {};
    return str::split_nonempty(m[1].str(), ',');
}

}  // namespace

Result<LintReport> lint(std::string_view text, const LintContext& context) {
    POETRYOPS_TRY(Dockerfile df, parse(text, context.file));
    detail::Analysis analysis(df);
    LintReport report;
    detail::run_rules(analysis, context, report.findings, report.not_checked);

    // Ignore comments: the comment block right before an instruction covers that instruction's
    // lines; the block before the first instruction covers the whole file.
    std::map<int, std::string> comment_at;
    for (const auto& c : df.comments) comment_at[c.line] = c.text;
    std::set<std::string> file_wide;
    std::vector<std::pair<const Instruction*, std::set<std::string>>> scoped;
    const int first_line = df.instructions.front().line;
    for (const auto& c : df.comments) {
        for (const auto& id : ignore_ids(c.text)) {
            if (!is_rule(id)) {
                report.warnings.push_back(context.file + ":" + std::to_string(c.line) +
                                          ": ignore comment names unknown rule '" + id + "'");
            } else if (c.line < first_line) {
                file_wide.insert(id);
            }
        }
    }
    for (const auto& ins : df.instructions) {
        std::set<std::string> ids;
        for (int l = ins.line - 1; comment_at.count(l); --l) {
            for (const auto& id : ignore_ids(comment_at[l])) ids.insert(id);
        }
        if (!ids.empty()) scoped.emplace_back(&ins, std::move(ids));
    }
    auto suppressed = [&](const Finding& f) {
        if (file_wide.count(f.rule)) return true;
        for (const auto& [ins, ids] : scoped) {
            if (f.line >= ins->line && f.line <= ins->end_line && ids.count(f.rule)) return true;
        }
        return false;
    };
    report.findings.erase(
        std::remove_if(report.findings.begin(), report.findings.end(), suppressed),
        report.findings.end());
    std::stable_sort(report.findings.begin(), report.findings.end(),
                     [](const Finding& a, const Finding& b) {
                         return a.line != b.line ? a.line < b.line : a.rule < b.rule;
                     });
    return report;
}

Result<LintReport> lint_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        return fail(Error::Kind::not_found, path.string() + ": no such file");
    }
    if (std::filesystem::is_directory(path, ec)) {
        return fail(Error::Kind::invalid, path.string() + ": is a directory, not a Dockerfile");
    }
    POETRYOPS_TRY(std::string text, read_file(path, kMaxDockerfileBytes));
    LintContext ctx;
    ctx.file = path.string();
    ctx.dockerignore_known = true;
    // BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile first, then .dockerignore in
    // the context; the linter assumes the context is the Dockerfile's folder (as `docker build .`
    // next to it).
    std::filesystem::path dir =
        path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    for (const auto& candidate :
         {std::filesystem::path(path.string() + ".dockerignore"), dir / ".dockerignore"}) {
        if (std::filesystem::is_regular_file(candidate, ec)) {
            auto ignore = read_file(candidate, 1024 * 1024);
            if (!ignore) return fail(ignore.error());
            ctx.dockerignore = *ignore;
            break;
        }
    }
    if (std::filesystem::is_regular_file(dir / "poetry.toml", ec)) {
        auto toml = read_file(dir / "poetry.toml", 1024 * 1024);
        if (toml) ctx.poetry_toml = *toml;
    }
    return lint(text, ctx);
}

std::string format_text(const std::vector<Finding>& findings) {
    std::string out;
    for (const auto& f : findings) {
        out += f.file + ":" + std::to_string(f.line) + ": " + f.rule + ": " + f.message + "\n";
    }
    return out;
}

std::string format_json(const std::vector<LintOutcome>& outcomes) {
    nlohmann::ordered_json doc;
    doc["version"] = 1;
    doc["findings"] = nlohmann::ordered_json::array();
    doc["not_checked"] = nlohmann::ordered_json::array();
    doc["warnings"] = nlohmann::ordered_json::array();
    doc["errors"] = nlohmann::ordered_json::array();
    std::size_t findings = 0;
    std::size_t errors = 0;
    for (const auto& o : outcomes) {
        if (!o.report) {
            ++errors;
            doc["errors"].push_back({{"file", o.file}, {"message", o.error}});
            continue;
        }
        for (const auto& f : o.report->findings) {
            ++findings;
            doc["findings"].push_back(
                {{"file", f.file}, {"line", f.line}, {"rule", f.rule}, {"message", f.message}});
        }
        for (const auto& n : o.report->not_checked) {
            doc["not_checked"].push_back(
                {{"file", n.file}, {"rule", n.rule}, {"reason", n.reason}});
        }
        for (const auto& w : o.report->warnings) doc["warnings"].push_back(w);
    }
    doc["summary"] = {{"files", outcomes.size()}, {"findings", findings}, {"errors", errors}};
    return doc.dump(2) + "\n";
}

}  // namespace poetryops::dockerfile
