// vnet/apps/app_types — what every app of the AppServer shares (internal to vnet/apps): the
// container's log file, something that holds a socket in a pod (Closable), and an app's facts and
// open connections (AppInfo). Objects of these types are touched on the io thread only, but
// AppLog, which any thread may write.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lib/plan/plan.h"

namespace mkn::vnet::apps_internal {

// One log file per container, opened on first use.
class AppLog {
 public:
  AppLog(std::string dir, std::string file) : dir_(std::move(dir)), path_(dir_ + "/" + file) {}
  ~AppLog() {
    if (f_ != nullptr) fclose(f_);
  }
  void Line(const std::string& text) {
    std::lock_guard<std::mutex> l(mu_);
    if (f_ == nullptr) {
      // Root's alone, as the rest of the state directory: a request line holds its query string.
      std::error_code ec;
      std::filesystem::create_directories(dir_, ec);
      ::chmod(dir_.c_str(), 0700);
      const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0) return;
      f_ = fdopen(fd, "a");
      if (f_ == nullptr) {
        ::close(fd);
        return;
      }
    }
    char ts[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f_, "%s %s\n", ts, text.c_str());
    fflush(f_);
  }

 private:
  std::mutex mu_;
  std::string dir_, path_;
  FILE* f_ = nullptr;
};

// Anything that holds a socket in a pod: a listener or a connection. Closed on the io thread.
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void Close() = 0;
};

struct AppInfo {
  plan::StartApp app;
  std::string node;
  std::shared_ptr<AppLog> log;
  // The app's open connections; touched only on the io thread. Closed when the pod is killed, as
  // a dying container's connections are.
  std::vector<std::weak_ptr<Closable>> sessions;
  void Track(const std::shared_ptr<Closable>& c) {
    std::erase_if(sessions, [](const std::weak_ptr<Closable>& w) { return w.expired(); });
    sessions.push_back(c);
  }
};

}  // namespace mkn::vnet::apps_internal
