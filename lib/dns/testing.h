// lib/dns/testing — a lab and a query helper shared by the dns tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "lib/config/toml/load.h"
#include "lib/dns/answer.h"
#include "lib/dns/message.h"
#include "lib/dns/zone.h"

namespace mkn::dns::testing {

// Two namespaces: web (3 replicas, a named port) and a UDP service in "default"; db (2 pods, two
// named ports) behind a ClusterIP and a headless Service in "data".
inline constexpr std::string_view kLab = R"(
[cluster]
name = "dns"
nodes = 2

[[pod]]
name = "client"
  [[pod.container]]
  name = "shell"
  command = ["sleep", "infinity"]

[[deployment]]
name = "web"
replicas = 3
  [deployment.template]
  labels = { app = "web" }
  [[deployment.template.container]]
  name = "echo"
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]

[[deployment]]
name = "db"
namespace = "data"
replicas = 2
  [deployment.template]
  labels = { app = "db" }
  [[deployment.template.container]]
  name = "echo"
  app = "tcp-echo"
  ports = [{ name = "pg", port = 5432 }]

[[service]]
name = "web"
selector = { app = "web" }
  [[service.port]]
  name = "http"
  port = 80
  target_port = "http"
  [[service.port]]
  name = "stats"
  port = 9000
  protocol = "UDP"

[[service]]
name = "db"
namespace = "data"
selector = { app = "db" }
  [[service.port]]
  name = "pg"
  port = 5432

[[service]]
name = "db-hl"
namespace = "data"
cluster_ip = "None"
selector = { app = "db" }
  [[service.port]]
  name = "pg"
  port = 5432
  target_port = "pg"
)";

inline config::ClusterSpec LoadLab(std::string_view text = kLab) {
  config::LoadResult r = config::Load(text, "dns.toml");
  std::string all;
  for (const auto& d : r.diags.all()) all += d.message + "\n";
  EXPECT_TRUE(r.spec.has_value()) << all;
  return r.spec ? *r.spec : config::ClusterSpec{};
}

}  // namespace mkn::dns::testing
