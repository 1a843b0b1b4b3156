#pragma once
/// SourcePort over the git module: the tip of spec.source.ref by one ls-refs (remote_tips; one per
/// repository and pass however many apps build from it), the commit's pyproject.toml and
/// poetry.lock read without a checkout, and the monorepo rule (a commit counts when it changed
/// spec.source.path or a path dependency of the project: changed_paths over trees).

#include <poetryops/controller/git_port.hpp>
#include <poetryops/controller/ports.hpp>
#include <poetryops/git/repo.hpp>
#include <poetryops/python/project.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace poetryops::controller {

/// Thread safety: safe.
class GitSourcePort final : public SourcePort {
public:
    /// `resolver` turns an app into the git::Remote of spec.source (URL and credentials).
    /// Tips are reused for `tips_ttl` (one ls-refs serves every app of a repository in a pass).
    GitSourcePort(git::RepoCache& cache, RemoteResolver resolver,
                  std::chrono::milliseconds tips_ttl = std::chrono::seconds(1));
    Result<SourceObservation> observe(const api::PoetryApp& app, const std::string& since) override;
    /// Forgets the tips read of every repository one of `urls` names (a source webhook said it
    /// moved).
    void invalidate(const std::vector<std::string>& urls);
    /// Forgets every tip read (local mode, at the start of a pass: a tip is never older than the
    /// pass that uses it).
    void invalidate_all();
    /// Writes the project folder (spec.source.path) and the in-repository folders of its path
    /// dependencies at `commit` under `dest`, where they are in the repository (git::Repo::
    /// export_tree: no checkout); returns the project folder inside `dest`.
    Result<std::filesystem::path> export_project(const api::PoetryApp& app,
                                                 const std::string& commit,
                                                 const std::filesystem::path& dest);

private:
    Result<std::shared_ptr<git::Repo>> repo_for(const api::PoetryApp& app);
    Result<std::string> tip(const std::shared_ptr<git::Repo>& repo, const std::string& ref);

    git::RepoCache& cache_;
    RemoteResolver resolver_;
    std::chrono::milliseconds tips_ttl_;
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<git::Repo>> repos_;  // by remote identity
    struct Tips {
        std::chrono::steady_clock::time_point at;
        std::map<std::string, std::string> tips;
    };
    std::map<std::string, Tips> tips_;  // by remote identity + ref
};

/// spec.source.path as a repository path: "" for the root ("." and "./x/" normalised).
std::string source_dir(const api::SourceSpec& source);

/// The repository folders a project at `dir` depends on: itself and each path dependency inside
/// the repository (`../libs/common` from `services/api` → `services/libs/common`; one that leaves
/// the repository is skipped).
std::vector<std::string> project_prefixes(const std::string& dir,
                                          const std::vector<python::PathDependency>& deps);

}  // namespace poetryops::controller
