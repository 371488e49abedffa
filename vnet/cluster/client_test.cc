// vnet/cluster/client: the `cni` verb's answer keeps what every plugin said (pure: no cluster).
#include "vnet/cluster/client.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/control/protocol.h"
#include "nlohmann/json.hpp"
#include "vnet/cni/runtime.h"

namespace mkn::vnet {
namespace {

PluginCall VersionCall(const std::string& plugin, const std::string& out) {
  PluginCall c;
  c.plugin = plugin;
  c.command = "VERSION";
  c.binary = "/opt/cni/bin/" + plugin;
  c.exec.exit_code = 0;
  c.exec.stdout_data = out;
  return c;
}

// A plugin whose VERSION output is not JSON is exactly what `cni version` is asked to show: its
// text is kept (as a JSON string), not dropped, and the answer still crosses the control socket.
TEST(CniAnswerOf, KeepsEveryPluginsVersionOutput) {
  ChainOutcome out;
  out.calls.push_back(
      VersionCall("bridge", R"({"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]})"));
  out.calls.push_back(VersionCall("broken", "version 0.1, probably\n"));
  out.calls.push_back(VersionCall("silent", ""));
  control::CniAnswer a = CniAnswerOf(out, "node1", "1.0.0");
  EXPECT_EQ(
      a.plugins["bridge"],
      nlohmann::json::parse(R"({"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]})"));
  EXPECT_EQ(a.plugins["broken"], "version 0.1, probably\n");
  EXPECT_EQ(a.plugins["silent"], "");

  absl::StatusOr<control::CniAnswer> back =
      control::ParseAnswer<control::CniAnswer>(control::Encode(control::ToJson(a)));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, a);
}

}  // namespace
}  // namespace mkn::vnet
