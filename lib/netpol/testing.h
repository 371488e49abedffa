// lib/netpol/testing — what lib/netpol's tests share: examples/netpol's lab with one of its cases
// (the truth tables the e2e suite probes for real), loaded as the tool would. For *_test.cc only.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "lib/testing/testing.h"

namespace mkn::netpol::testing_cases {

// Every case of examples/netpol/cases.
inline constexpr const char* kCases[] = {"deny-ingress",       "deny-all",    "pod-selector",
                                         "namespace-selector", "and-vs-or",   "ports-union",
                                         "egress-ipblock",     "named-egress"};

// examples/netpol's lab with case `name` appended ("": the lab alone), in proxy mode `mode` (""
// keeps the lab's nftables). A lab that does not load fails the test, naming its diagnostics.
inline config::ClusterSpec LoadCase(const std::string& name, const std::string& mode = "") {
  const std::filesystem::path dir = testdata::SourceDir() / "examples/netpol";
  std::string text = testdata::ReadFile(dir / "lab.toml");
  if (!mode.empty()) {
    const std::string from = "proxy_mode = \"nftables\"";
    text.replace(text.find(from), from.size(), "proxy_mode = \"" + mode + "\"");
  }
  if (!name.empty()) text += "\n" + testdata::ReadFile(dir / "cases" / (name + ".toml"));
  config::LoadResult r = config::Load(text, name + ".toml");
  std::string all;
  for (const auto& d : r.diags.all()) all += d.message + "\n";
  EXPECT_TRUE(r.spec.has_value()) << name << ": " << all;
  return r.spec ? *r.spec : config::ClusterSpec{};
}

}  // namespace mkn::netpol::testing_cases
