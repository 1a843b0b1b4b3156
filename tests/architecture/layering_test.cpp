// Module layering (docs/architecture.md): a module includes only itself and the modules listed
// before it in CMakeLists.txt's POETRYOPS_MODULES; the I/O modules know nothing of PoetryApps.
// Reads the tree as text.
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::vector<std::string> module_order() {
    std::vector<std::string> out;
    std::stringstream in(POETRYOPS_MODULE_ORDER);
    for (std::string m; std::getline(in, m, ',');) out.push_back(m);
    return out;
}

/// Every (file, included module) under src/MODULE and include/poetryops/MODULE.
std::vector<std::pair<std::string, std::string>> includes_of(const std::string& module) {
    std::vector<std::pair<std::string, std::string>> out;
    std::regex inc(R"(^\s*#\s*include\s*[<"]poetryops/([a-z_]+)/)");
    std::regex local(R"(^\s*#\s*include\s*"([a-z_]+)/)");
    for (const fs::path& root : {poetryops::test::source_dir() / "src" / module,
                                 poetryops::test::source_dir() / "include/poetryops" / module}) {
        std::error_code ec;
        if (!fs::exists(root, ec)) continue;
        for (const auto& e : fs::recursive_directory_iterator(root)) {
            if (!e.is_regular_file()) continue;
            auto text = poetryops::read_file(e.path());
            if (!text) continue;
            std::istringstream lines(*text);
            for (std::string line; std::getline(lines, line);) {
                std::smatch m;
                if (std::regex_search(line, m, inc) || std::regex_search(line, m, local)) {
                    out.emplace_back(fs::relative(e.path(), poetryops::test::source_dir()).string(),
                                     m[1]);
                }
            }
        }
    }
    return out;
}

}  // namespace

TEST(Layering, AModuleIncludesOnlyModulesBelowIt) {
    auto order = module_order();
    ASSERT_GE(order.size(), 10u);
    std::map<std::string, std::size_t> rank;
    for (std::size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
    int checked = 0;
    for (const auto& module : order) {
        for (const auto& [file, included] : includes_of(module)) {
            ++checked;
            auto it = rank.find(included);
            if (it == rank.end()) continue;  // "detail/..." and other local folders
            EXPECT_LE(it->second, rank[module])
                << file << " (module " << module << ") includes " << included
                << ", which is listed after it in POETRYOPS_MODULES";
        }
    }
    EXPECT_GT(checked, 100) << "the scan found too few includes to mean anything";
}

TEST(Layering, IoModulesKnowNothingOfPoetryApps) {
    for (const char* module : {"util", "oci", "http", "notify", "git", "registry", "kube",
                               "prometheus", "runtime", "manifest"}) {
        for (const fs::path& root :
             {poetryops::test::source_dir() / "src" / module,
              poetryops::test::source_dir() / "include/poetryops" / module}) {
            std::error_code ec;
            if (!fs::exists(root, ec)) continue;
            for (const auto& e : fs::recursive_directory_iterator(root)) {
                if (!e.is_regular_file()) continue;
                auto text = poetryops::read_file(e.path());
                ASSERT_TRUE(text);
                // Code only: comments may use a PoetryApp as an example.
                std::istringstream lines(*text);
                int n = 0;
                for (std::string line; std::getline(lines, line);) {
                    ++n;
                    line = line.substr(0, line.find("//"));
                    for (const char* word : {"PoetryApp", "poetryapps", "Poetryops-Promotion"}) {
                        EXPECT_EQ(line.find(word), std::string::npos)
                            << fs::relative(e.path(), poetryops::test::source_dir()).string() << ":"
                            << n << " names " << word << " in code";
                    }
                }
            }
        }
    }
}

// The deciding modules (ARCHITECTURE.md §2: "promote and canary decide and do no I/O") include
// none of the I/O modules; canary's judge gets its numbers from the caller, not from Prometheus.
TEST(Layering, DecidingModulesIncludeNoIoModule) {
    const std::vector<std::string> io = {"http",       "git",     "registry",  "kube",
                                         "prometheus", "runtime", "controller"};
    int checked = 0;
    for (const char* module : {"promote", "canary"}) {
        for (const auto& [file, included] : includes_of(module)) {
            ++checked;
            EXPECT_EQ(std::find(io.begin(), io.end(), included), io.end())
                << file << " (module " << module << ", pure) includes the I/O module " << included;
        }
    }
    EXPECT_GT(checked, 5) << "the scan found too few includes to mean anything";
}
