#include "lib/cni/version.h"

#include <gtest/gtest.h>

namespace mkn::cni {
namespace {

TEST(PluginAbout, FirstLineThatIsNotTheProtocolList) {
  struct Case {
    const char* name;
    std::string stderr_text, want;
  } cases[] = {
      {"skel, stamped", "CNI bridge plugin v1.1.1\nCNI protocol versions supported: 0.1.0, 1.0.0\n",
       "CNI bridge plugin v1.1.1"},
      // Debian builds without the version stamp.
      {"skel, Debian",
       "CNI bridge plugin version unknown\nCNI protocol versions supported: 0.1.0, 0.2.0\n",
       "CNI bridge plugin version unknown"},
      {"protocol list only", "CNI protocol versions supported: 1.0.0\n", ""},
      {"nothing", "", ""},
      {"blank lines and spaces", "\n  \n  my-plugin 2.3  \r\n", "my-plugin 2.3"},
      {"no final newline", "calico v3.27.0", "calico v3.27.0"},
      {"long", std::string(300, 'x'), std::string(100, 'x')},
      {"junk bytes", "plugin \xff v1\n", "plugin \xEF\xBF\xBD v1"},
  };
  for (const Case& c : cases) EXPECT_EQ(PluginAbout(c.stderr_text), c.want) << c.name;
}

TEST(PackageOfFile, OnlyALineNamingExactlyThatFile) {
  struct Case {
    const char* name;
    std::string out, file, want;
  } cases[] = {
      {"owned", "containernetworking-plugins: /usr/lib/cni/bridge\n", "/usr/lib/cni/bridge",
       "containernetworking-plugins"},
      {"another file", "containernetworking-plugins: /usr/lib/cni/bridge\n", "/usr/lib/cni/ptp",
       ""},
      {"not from a package", "dpkg-query: no path found matching pattern /opt/cni/bin/x\n",
       "/opt/cni/bin/x", ""},
      {"diversion", "diversion by foo from: /usr/lib/cni/bridge\nfoo: /usr/lib/cni/bridge\n",
       "/usr/lib/cni/bridge", "foo"},
      {"shared directory", "a, b: /usr/lib/cni\n", "/usr/lib/cni", ""},
      {"empty", "", "/usr/lib/cni/bridge", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(PackageOfFile(c.out, c.file), c.want) << c.name;
}

TEST(PluginVersionText, AboutThenPackage) {
  EXPECT_EQ(PluginVersionText("CNI bridge plugin version unknown", "containernetworking-plugins",
                              "1.1.1+ds1-3+b5"),
            "CNI bridge plugin version unknown [deb containernetworking-plugins 1.1.1+ds1-3+b5]");
  EXPECT_EQ(PluginVersionText("CNI bridge plugin v1.4.0", "", ""), "CNI bridge plugin v1.4.0");
  EXPECT_EQ(PluginVersionText("", "", ""), "(no version text)");
  EXPECT_EQ(PluginVersionText("", "pkg", ""), "(no version text) [deb pkg]");
}

}  // namespace
}  // namespace mkn::cni
