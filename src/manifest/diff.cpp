#include <poetryops/manifest/files.hpp>

#include <algorithm>
#include <vector>

namespace poetryops::manifest {
namespace {

std::vector<std::string_view> lines_of(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start < s.size()) {
        auto nl = s.find('\n', start);
        std::size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
        out.push_back(s.substr(start, end - start));
        start = end;
    }
    return out;
}

enum class Op { keep, del, add };

struct Edit {
    Op op;
    std::string_view line;
    std::size_t a, b;  // 0-based line numbers in before/after at this point
};

void emit_line(std::string& out, char mark, std::string_view line) {
    out += mark;
    out.append(line);
    if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, std::string_view name) {
    if (before == after) return {};
    auto a = lines_of(before);
    auto b = lines_of(after);
    std::size_t pre = 0;
    while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
    std::size_t suf = 0;
    while (suf < a.size() - pre && suf < b.size() - pre &&
           a[a.size() - 1 - suf] == b[b.size() - 1 - suf])
        ++suf;
    std::size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
    // The middle: an LCS table when small (edits touch few lines), else one replaced block.
    std::vector<Edit> edits;
    for (std::size_t i = 0; i < pre; ++i) edits.push_back({Op::keep, a[i], i, i});
    if (n * m <= 4'000'000) {
        std::vector<std::vector<unsigned>> L(n + 1, std::vector<unsigned>(m + 1, 0));
        for (std::size_t i = n; i-- > 0;) {
            for (std::size_t j = m; j-- > 0;) {
                L[i][j] = a[pre + i] == b[pre + j] ? L[i + 1][j + 1] + 1
                                                   : std::max(L[i + 1][j], L[i][j + 1]);
            }
        }
        std::size_t i = 0, j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && a[pre + i] == b[pre + j]) {
                edits.push_back({Op::keep, a[pre + i], pre + i, pre + j});
                ++i, ++j;
            } else if (i < n && (j == m || L[i + 1][j] >= L[i][j + 1])) {
                edits.push_back(
                    {Op::del, a[pre + i], pre + i, pre + j});  // deletions first, as diff -u does
                ++i;
            } else {
                edits.push_back({Op::add, b[pre + j], pre + i, pre + j});
                ++j;
            }
        }
    } else {
        for (std::size_t i = 0; i < n; ++i) edits.push_back({Op::del, a[pre + i], pre + i, pre});
        for (std::size_t j = 0; j < m; ++j)
            edits.push_back({Op::add, b[pre + j], pre + n, pre + j});
    }
    for (std::size_t k = 0; k < suf; ++k) {
        edits.push_back({Op::keep, a[a.size() - suf + k], a.size() - suf + k, b.size() - suf + k});
    }
    std::string out = "--- a/" + std::string(name) + "\n+++ b/" + std::string(name) + "\n";
    constexpr std::size_t ctx = 3;
    std::size_t k = 0;
    while (k < edits.size()) {
        if (edits[k].op == Op::keep) {
            ++k;
            continue;
        }
        // A hunk: from ctx lines before this change to ctx lines after the last change within 2*ctx
        // of the next.
        std::size_t start = k >= ctx ? k - ctx : 0;
        std::size_t end = k;
        while (true) {
            std::size_t next = end;
            while (next < edits.size() && edits[next].op != Op::keep) ++next;
            std::size_t keeps = next;
            while (keeps < edits.size() && edits[keeps].op == Op::keep) ++keeps;
            if (keeps < edits.size() && keeps - next <= 2 * ctx) {
                end = keeps;
                continue;
            }
            end = std::min(next + ctx, edits.size());
            break;
        }
        std::size_t a_count = 0, b_count = 0;
        for (std::size_t x = start; x < end; ++x) {
            if (edits[x].op != Op::add) ++a_count;
            if (edits[x].op != Op::del) ++b_count;
        }
        std::size_t a_start = edits[start].a + (a_count ? 1 : 0),
                    b_start = edits[start].b + (b_count ? 1 : 0);
        out += "@@ -" + std::to_string(a_start) + "," + std::to_string(a_count) + " +" +
               std::to_string(b_start) + "," + std::to_string(b_count) + " @@\n";
        for (std::size_t x = start; x < end; ++x) {
            emit_line(out,
                      edits[x].op == Op::keep  ? ' '
                      : edits[x].op == Op::del ? '-'
                                               : '+',
                      edits[x].line);
        }
        k = end;
    }
    return out;
}

}  // namespace poetryops::manifest
