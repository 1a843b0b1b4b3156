#include "git/detail/cat_file.hpp"

#include "git/detail/runner.hpp"

#include <poetryops/util/strings.hpp>

#include <cstdlib>

namespace poetryops::git::detail {

void count_batch_answers(std::string_view out, std::size_t& pos, std::size_t& count,
                         std::size_t want) {
    while (count < want) {
        auto nl = out.find('\n', pos);
        if (nl == std::string_view::npos) return;
        std::string_view header = out.substr(pos, nl - pos);
        std::size_t next = nl + 1;
        bool no_body = (header.size() >= 8 && header.substr(header.size() - 8) == " missing") ||
                       (header.size() >= 10 && header.substr(header.size() - 10) == " ambiguous");
        if (!no_body) {
            auto sp = header.rfind(' ');
            if (sp == std::string_view::npos) return;  // malformed: parse_batch_output() reports it
            std::size_t size =
                std::strtoull(std::string(header.substr(sp + 1)).c_str(), nullptr, 10);
            next = nl + 1 + size + 1;
            if (next > out.size()) return;
        }
        pos = next;
        ++count;
    }
}

CatFile::CatFile(const Runner& runner) : runner_(runner) {}

CatFile::~CatFile() = default;

Result<void> CatFile::batch(const std::vector<std::string>& names,
                            std::vector<BatchObject>& answers) {
    answers.clear();
    if (names.empty()) return ok();
    if (!proc_ || !proc_->usable()) {
        proc_.reset();
        // It never talks to the remote, so the long-lived process does not hold the secret in its
        // environment either.
        POETRYOPS_TRY(proc_,
                      runner_.start({"cat-file", "--batch"}, {{"GIT_NO_LAZY_FETCH", "1"},
                                                              {"POETRYOPS_GIT_USERNAME", ""},
                                                              {"POETRYOPS_GIT_PASSWORD", ""}}));
        ++starts_;
    }
    std::string input;
    for (const auto& n : names) {
        input += n;
        input += '\n';
    }
    std::string out;
    std::size_t pos = 0, count = 0;
    auto done = [&](std::string_view o) {
        count_batch_answers(o, pos, count, names.size());
        return count == names.size();
    };
    auto r = proc_->exchange(input, out, done, runner_.timeout());
    count_batch_answers(out, pos, count, names.size());
    auto parsed = parse_batch_output(out, count);
    if (!parsed) {
        proc_.reset();
        return fail(Error::Kind::internal,
                    "read objects of " + runner_.url() + ": " + parsed.error().message);
    }
    answers = std::move(parsed).value();
    if (r) return ok();
    std::string said = useful_lines(proc_->stderr_tail(), "");
    int pid = proc_->pid();
    proc_.reset();
    Error e = std::move(r).error();
    e.message = runner_.scrub("read objects of " + runner_.url() + ": git cat-file (pid " +
                              std::to_string(pid) + ") " + e.message +
                              (said == "git gave no output" ? "" : ": " + said));
    return fail(std::move(e));
}

}  // namespace poetryops::git::detail
