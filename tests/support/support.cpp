#include "support/support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

namespace poetryops::test {

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        socklen_t len = sizeof addr;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
            port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
}

bool port_open(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (ready()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::filesystem::path source_dir() {
    if (const char* s = std::getenv("POETRYOPS_SOURCE_DIR"); s && *s) return s;
    return POETRYOPS_SOURCE_DIR;
}

std::map<std::string, std::string> example_files(const std::string& name) {
    namespace fs = std::filesystem;
    std::map<std::string, std::string> files;
    const fs::path root = source_dir() / "examples" / name;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        const std::string rel = it->path().lexically_relative(root).generic_string();
        if (rel == ".venv" || rel.rfind(".venv/", 0) == 0 || rel.find("__pycache__") != rel.npos) {
            if (it->is_directory()) it.disable_recursion_pending();
            continue;
        }
        if (!it->is_regular_file()) continue;
        auto text = read_file(it->path());
        EXPECT_TRUE(text) << it->path();
        if (text) files[rel] = *text;
    }
    return files;
}

bool require_tools(const std::vector<std::string>& programs) {
    bool all = true;
    for (const auto& p : programs) {
        auto r = run_process({"sh", "-c", "command -v \"$0\"", p});
        if (!r || r->exit_code != 0) {
            ADD_FAILURE() << "required tool '" << p << "' is not installed; run scripts/setup.sh";
            all = false;
        }
    }
    return all;
}

ProcessResult must_run(const std::vector<std::string>& argv, const ProcessOptions& options) {
    auto r = run_process(argv, options);
    if (!r) {
        ADD_FAILURE() << format_argv(argv) << ": " << r.error().message;
        return {};
    }
    if (!r->ok()) {
        ADD_FAILURE() << format_argv(argv) << " exited " << r->exit_code
                      << (r->timed_out ? " (timed out)" : "") << "\nstdout: " << r->out
                      << "\nstderr: " << r->err;
    }
    return std::move(r).value();
}

TestCa::TestCa() : dir_("poetryops-ca") {
    auto d = dir_.path().string();
    must_run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3", "-subj",
              "/CN=poetryops test CA", "-keyout", d + "/ca.key", "-out", d + "/ca.crt", "-addext",
              "basicConstraints=critical,CA:TRUE", "-addext",
              "keyUsage=critical,keyCertSign,cRLSign"});
}

std::pair<std::filesystem::path, std::filesystem::path> TestCa::issue(
    const std::string& name, const std::vector<std::string>& sans) {
    auto d = dir_.path().string();
    std::string key = d + "/" + name + ".key", csr = d + "/" + name + ".csr",
                crt = d + "/" + name + ".crt", ext = d + "/" + name + ".ext";
    std::string san_list;
    for (const auto& s : sans) san_list += (san_list.empty() ? "" : ",") + s;
    std::string cn = sans.empty() ? name : sans.front().substr(sans.front().find(':') + 1);
    auto w = write_file_atomic(
        ext, "subjectAltName=" + san_list +
                 "\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                 "extendedKeyUsage=serverAuth,clientAuth\n");
    if (!w) ADD_FAILURE() << w.error().message;
    must_run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn, "-keyout",
              key, "-out", csr});
    must_run({"openssl", "x509", "-req", "-in", csr, "-CA", d + "/ca.crt", "-CAkey", d + "/ca.key",
              "-CAcreateserial", "-days", "3", "-extfile", ext, "-out", crt});
    return {crt, key};
}

}  // namespace poetryops::test
