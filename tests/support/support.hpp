#pragma once
/// Test support shared by every module's tests: free ports, readiness polling, a test CA, tool
/// checks.

#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace poetryops::test {

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
int free_port();

/// Polls `ready` every 20 ms until it returns true or `timeout` passes. Returns whether it became
/// ready.
bool wait_until(const std::function<bool()>& ready,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// True when something accepts TCP connections on 127.0.0.1:port.
bool port_open(int port);

/// The source tree (POETRYOPS_SOURCE_DIR set by ctest, else the compile-time path).
std::filesystem::path source_dir();

/// Every file of examples/NAME by path relative to it (its local .venv and bytecode left out): a
/// Poetry project to commit to a source repository or build.
std::map<std::string, std::string> example_files(const std::string& name);

/// Fails the calling test (ADD_FAILURE) and returns false when a program is not on PATH.
/// Integration tests never skip: scripts/setup.sh installs every tool they need.
bool require_tools(const std::vector<std::string>& programs);

/// Runs a command that must succeed; on failure adds a test failure with its stderr and returns the
/// result anyway.
ProcessResult must_run(const std::vector<std::string>& argv, const ProcessOptions& options = {});

/// A certificate authority and certificates made with the openssl CLI in a temp dir.
class TestCa {
public:
    TestCa();
    /// CA certificate (PEM).
    std::filesystem::path ca_cert() const { return dir_.path() / "ca.crt"; }
    /// Issues a server certificate for the given subjectAltNames (e.g. {"DNS:localhost",
    /// "IP:127.0.0.1"}). Returns {cert, key} paths; `name` names the files.
    std::pair<std::filesystem::path, std::filesystem::path> issue(
        const std::string& name, const std::vector<std::string>& sans);
    const std::filesystem::path& dir() const { return dir_.path(); }

private:
    TempDir dir_;
};

}  // namespace poetryops::test
