// Dockerfile parser: directives, comments, continuations, heredocs, flags, exec/shell forms,
// stages.
#include <poetryops/dockerfile/parser.hpp>

#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace poetryops::dockerfile {

namespace {

const std::set<std::string> kInstructions = {
    "ADD",    "ARG",   "CMD",         "COPY",  "ENTRYPOINT", "ENV",
    "EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
    "RUN",    "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};
const std::set<std::string> kFlagInstructions = {"FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"};
const std::set<std::string> kJsonInstructions = {"RUN",  "CMD", "ENTRYPOINT", "SHELL",
                                                 "COPY", "ADD", "VOLUME"};
const std::set<std::string> kHeredocInstructions = {"RUN", "COPY", "ADD"};

std::string_view ltrim(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}

std::string_view rtrim(std::string_view s) {
    std::size_t n = s.size();
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) --n;
    return s.substr(0, n);
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) {
            if (start < text.size()) lines.push_back(text.substr(start));
            break;
        }
        std::string_view line = text.substr(start, nl - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        start = nl + 1;
    }
    return lines;
}

/// At most ~80 characters of `s` for a message, control characters shown as \xNN, cut with "…":
/// an error about a line never echoes the whole line (a 100 MB line of NUL bytes is one line).
std::string excerpt(std::string_view s) {
    constexpr std::size_t kMax = 80;
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (out.size() >= kMax) {
            // Never cut inside a UTF-8 sequence.
            while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
                out.pop_back();
            if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80)) out.pop_back();
            return out + "…";
        }
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

Unexpected error_at(const std::string& file, int line, const std::string& problem) {
    return fail(Error::Kind::decode, file + ":" + std::to_string(line) + ": " + problem,
                "DockerfileSyntax");
}

/// `# name=value` at the top of the file; returns false when the line is not a directive.
bool parse_directive(std::string_view line, std::string& name, std::string& value) {
    std::string_view s = ltrim(line);
    if (s.empty() || s[0] != '#') return false;
    s = ltrim(s.substr(1));
    std::size_t i = 0;
    if (i >= s.size() || !std::isalpha(static_cast<unsigned char>(s[i]))) return false;
    while (i < s.size() && std::isalnum(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view key = s.substr(0, i);
    std::string_view rest = ltrim(s.substr(i));
    if (rest.empty() || rest[0] != '=') return false;
    name = str::to_lower(key);
    value = std::string(str::trim(rest.substr(1)));
    return true;
}

struct HeredocMarker {
    std::string delimiter;
    bool quoted = false;
    bool strip_tabs = false;
};

/// Finds `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` outside quotes.
std::vector<HeredocMarker> find_heredocs(std::string_view s) {
    std::vector<HeredocMarker> out;
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quote) {
            if (c == quote) quote = 0;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            continue;
        }
        if (c != '<' || i + 1 >= s.size() || s[i + 1] != '<') continue;
        if ((i > 0 && s[i - 1] == '<') || (i + 2 < s.size() && s[i + 2] == '<')) {
            i += 2;  // `<<<` is a here-string, not a heredoc
            continue;
        }
        std::size_t j = i + 2;
        HeredocMarker m;
        if (j < s.size() && s[j] == '-') {
            m.strip_tabs = true;
            ++j;
        }
        char q = 0;
        if (j < s.size() && (s[j] == '"' || s[j] == '\'')) {
            q = s[j];
            m.quoted = true;
            ++j;
        }
        std::size_t k = j;
        while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_' ||
                                s[k] == '-' || s[k] == '.')) {
            ++k;
        }
        if (k == j) continue;
        m.delimiter = std::string(s.substr(j, k - j));
        if (q) {
            if (k >= s.size() || s[k] != q) continue;
            ++k;
        }
        out.push_back(m);
        i = k - 1;
    }
    return out;
}

/// Splits leading `--name[=value]` flags off `rest`.
std::vector<Flag> take_flags(std::string_view& rest) {
    std::vector<Flag> flags;
    while (rest.size() > 2 && rest.substr(0, 2) == "--" && rest[2] != ' ') {
        std::size_t end = 0;
        char quote = 0;
        while (end < rest.size()) {
            char c = rest[end];
            if (quote) {
                if (c == quote) quote = 0;
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == ' ' || c == '\t') {
                break;
            }
            ++end;
        }
        std::string_view token = rest.substr(2, end - 2);
        Flag f;
        std::size_t eq = token.find('=');
        f.name = str::to_lower(token.substr(0, eq));
        if (eq != std::string_view::npos) f.value = std::string(token.substr(eq + 1));
        flags.push_back(std::move(f));
        rest = ltrim(rest.substr(end));
    }
    return flags;
}

void detect_exec_form(Instruction& ins) {
    std::string_view a = ltrim(ins.args);
    if (a.empty() || a[0] != '[' || !kJsonInstructions.count(ins.keyword)) return;
    nlohmann::json j = nlohmann::json::parse(a, nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) return;
    std::vector<std::string> words;
    for (const auto& e : j) {
        if (!e.is_string()) return;
        words.push_back(e.get<std::string>());
    }
    ins.exec_form = true;
    ins.exec_args = std::move(words);
}

}  // namespace

std::optional<std::string> Instruction::flag(std::string_view name) const {
    for (const auto& f : flags) {
        if (f.name == name) return f.value;
    }
    return std::nullopt;
}

std::vector<std::string> Instruction::flags_named(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& f : flags) {
        if (f.name == name) out.push_back(f.value);
    }
    return out;
}

std::string Instruction::command_text() const {
    std::string text = exec_form ? str::join(exec_args, " ") : args;
    for (const auto& h : heredocs) {
        text += "\n";
        text += h.body;
    }
    return text;
}

int Dockerfile::find_stage(std::string_view ref, int before) const {
    std::string r = str::to_lower(ref);
    for (const auto& s : stages) {
        if (s.index >= before) break;
        if (!s.name.empty() && s.name == r) return s.index;
    }
    if (!r.empty() && std::all_of(r.begin(), r.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
        })) {
        int n = std::stoi(r.size() > 6 ? std::string("999999") : r);
        if (n < before) return n;
    }
    return -1;
}

Result<Dockerfile> parse(std::string_view text, const std::string& file) {
    Dockerfile df;
    const auto lines = split_lines(text);
    const int n = static_cast<int>(lines.size());
    int i = 0;

    // Parser directives: only at the very top, before any comment, blank line or instruction.
    static const std::set<std::string> known = {"syntax", "escape", "check"};
    for (; i < n; ++i) {
        std::string name, value;
        if (!parse_directive(lines[i], name, value) || !known.count(name)) break;
        if (df.directives.count(name))
            return error_at(file, i + 1, "parser directive '" + excerpt(name) + "' given twice");
        if (name == "escape") {
            if (value != "\\" && value != "`") {
                return error_at(file, i + 1,
                                "invalid escape directive '" + excerpt(value) + "' (use \\ or `)");
            }
            df.escape = value[0];
        }
        if (name == "syntax") df.syntax_line = i + 1;
        df.directives[name] = value;
    }

    while (i < n) {
        std::string_view t = ltrim(lines[i]);
        if (rtrim(t).empty()) {
            ++i;
            continue;
        }
        if (t[0] == '#') {
            df.comments.push_back({i + 1, std::string(str::trim(t.substr(1)))});
            ++i;
            continue;
        }
        const int start = i;
        std::string logical;
        while (i < n) {
            std::string_view cur = rtrim(lines[i]);
            ++i;
            if (!cur.empty() && cur.back() == df.escape) {
                cur.remove_suffix(1);
                logical += cur;
                // Comment and empty lines inside a continuation are dropped, as BuildKit does.
                while (i < n) {
                    std::string_view nx = ltrim(lines[i]);
                    if (rtrim(nx).empty() || nx[0] == '#') {
                        ++i;
                        continue;
                    }
                    break;
                }
                continue;
            }
            logical += cur;
            break;
        }

        Instruction ins;
        ins.line = start + 1;
        std::string_view rest = ltrim(logical);
        std::size_t kw_end = 0;
        while (kw_end < rest.size() && rest[kw_end] != ' ' && rest[kw_end] != '\t') ++kw_end;
        ins.keyword = str::to_lower(rest.substr(0, kw_end));
        std::transform(ins.keyword.begin(), ins.keyword.end(), ins.keyword.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (!kInstructions.count(ins.keyword)) {
            return error_at(file, ins.line,
                            "unknown instruction '" + excerpt(rest.substr(0, kw_end)) + "'");
        }
        rest = ltrim(rest.substr(kw_end));
        if (kFlagInstructions.count(ins.keyword)) ins.flags = take_flags(rest);
        ins.args = std::string(rtrim(rest));
        if (ins.args.empty()) return error_at(file, ins.line, ins.keyword + " has no arguments");

        if (kHeredocInstructions.count(ins.keyword)) {
            for (const auto& m : find_heredocs(ins.args)) {
                Heredoc h{m.delimiter, "", m.quoted, m.strip_tabs};
                bool closed = false;
                while (i < n) {
                    std::string_view body = lines[i];
                    ++i;
                    std::string_view cmp = body;
                    if (m.strip_tabs) {
                        while (!cmp.empty() && cmp[0] == '\t') cmp.remove_prefix(1);
                    }
                    if (cmp == m.delimiter) {
                        closed = true;
                        break;
                    }
                    h.body += m.strip_tabs ? cmp : body;
                    h.body += '\n';
                }
                if (!closed) {
                    return error_at(file, ins.line,
                                    "heredoc <<" + excerpt(m.delimiter) +
                                        " is never closed (no line '" + excerpt(m.delimiter) +
                                        "' follows)");
                }
                ins.heredocs.push_back(std::move(h));
            }
        }
        ins.end_line = i;
        detect_exec_form(ins);

        if ((ins.keyword == "COPY" || ins.keyword == "ADD") && !ins.exec_form &&
            split_words(ins.args).size() < 2) {
            return error_at(file, ins.line, ins.keyword + " needs a source and a destination");
        }

        if (ins.keyword == "FROM") {
            auto words = split_words(ins.args, df.escape);
            if (!(words.size() == 1 || (words.size() == 3 && str::iequals(words[1], "as")))) {
                return error_at(file, ins.line,
                                "FROM expects 'IMAGE [AS NAME]', got '" + excerpt(ins.args) + "'");
            }
            Stage st;
            st.index = static_cast<int>(df.stages.size());
            st.name = words.size() == 3 ? str::to_lower(words[2]) : "";
            st.base = words[0];
            st.resolved_base = substitute(words[0], df.global_args);
            st.parent = df.find_stage(st.resolved_base, st.index);
            st.line = ins.line;
            st.first = df.instructions.size();
            st.last = st.first;
            df.stages.push_back(st);
        } else if (df.stages.empty()) {
            if (ins.keyword != "ARG") {
                return error_at(file, ins.line,
                                ins.keyword + " before the first FROM (only ARG may come first)");
            }
            for (const auto& w : split_words(ins.args, df.escape)) {
                std::size_t eq = w.find('=');
                df.global_args[w.substr(0, eq)] = eq == std::string::npos ? "" : w.substr(eq + 1);
            }
        }
        ins.stage = df.stages.empty() ? -1 : df.stages.back().index;
        if (!df.stages.empty()) df.stages.back().last = df.instructions.size();
        df.instructions.push_back(std::move(ins));
    }
    if (df.stages.empty()) {
        return fail(Error::Kind::decode,
                    file + ":" + std::to_string(std::max(n, 1)) + ": no FROM instruction",
                    "DockerfileSyntax");
    }
    return df;
}

std::vector<std::string> split_words(std::string_view s, char escape) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    auto copy_subst = [&](std::size_t& i) {  // $( ... ) with nesting, starting at '$'
        int depth = 0;
        for (; i < s.size(); ++i) {
            cur += s[i];
            if (s[i] == '(') ++depth;
            if (s[i] == ')' && --depth == 0) return;
        }
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) words.push_back(std::move(cur));
            cur.clear();
            in_word = false;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            for (++i; i < s.size() && s[i] != '\''; ++i) cur += s[i];
        } else if (c == '"') {
            for (++i; i < s.size() && s[i] != '"'; ++i) {
                if (s[i] == escape && i + 1 < s.size() &&
                    (s[i + 1] == '"' || s[i + 1] == escape || s[i + 1] == '$' || s[i + 1] == '`')) {
                    cur += s[++i];
                } else if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '(') {
                    copy_subst(i);
                } else {
                    cur += s[i];
                }
            }
        } else if (c == escape) {
            if (i + 1 < s.size()) cur += s[++i];
        } else if (c == '$' && i + 1 < s.size() && s[i + 1] == '(') {
            copy_subst(i);
        } else if (c == '`') {
            cur += c;
            for (++i; i < s.size() && s[i] != '`'; ++i) cur += s[i];
            if (i < s.size()) cur += '`';
        } else {
            cur += c;
        }
    }
    if (in_word) words.push_back(std::move(cur));
    return words;
}

std::string substitute(std::string_view s, const std::map<std::string, std::string>& vars) {
    std::string out;
    auto lookup = [&](const std::string& name) -> const std::string* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : &it->second;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '$' || i + 1 >= s.size()) {
            out += s[i];
            continue;
        }
        if (s[i + 1] == '{') {
            std::size_t close = s.find('}', i + 2);
            if (close == std::string_view::npos) {
                out += s.substr(i);
                break;
            }
            std::string expr(s.substr(i + 2, close - i - 2));
            std::size_t op = expr.find(':');
            std::string name = expr.substr(0, op);
            const std::string* v = lookup(name);
            if (op != std::string::npos && op + 1 < expr.size() && expr[op + 1] == '-') {
                out += (v && !v->empty()) ? *v : expr.substr(op + 2);
            } else if (op != std::string::npos && op + 1 < expr.size() && expr[op + 1] == '+') {
                out += (v && !v->empty()) ? expr.substr(op + 2) : "";
            } else if (v) {
                out += *v;
            }
            i = close;
            continue;
        }
        std::size_t j = i + 1;
        while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
        if (j == i + 1) {
            out += '$';
            continue;
        }
        if (const std::string* v = lookup(std::string(s.substr(i + 1, j - i - 1)))) out += *v;
        i = j - 1;
    }
    return out;
}

}  // namespace poetryops::dockerfile
