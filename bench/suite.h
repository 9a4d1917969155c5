// Shape suites (bench/*.txt): one problem per line,
// name N H W C filters kernel stride dilation groups padding. Shared by halconv bench and
// halconv tune.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "halconv/config.h"

namespace halconv::bench {

struct SuiteShape {
  std::string name;
  Conv2DConfig config;  // data_format as asked
  Shape input;          // in that data_format's order
};

inline std::vector<SuiteShape> read_suite(const std::string& path, DataFormat format) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::invalid_input, "cannot open suite '" + path + "'");
  std::vector<SuiteShape> suite;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    SuiteShape s;
    int64_t n, h, w, c, k, stride, dilation;
    std::string padding;
    if (!(fields >> s.name >> n >> h >> w >> c >> s.config.filters >> k >> stride >> dilation >>
          s.config.groups >> padding)) {
      throw Error(ErrorKind::invalid_input, "malformed suite line: " + line);
    }
    s.config.kernel_size = k;
    s.config.strides = stride;
    s.config.dilation_rate = dilation;
    s.config.padding = parse_padding(padding);
    s.config.data_format = format;
    s.input = format == DataFormat::channels_last ? Shape{n, h, w, c} : Shape{n, c, h, w};
    suite.push_back(s);
  }
  return suite;
}

}  // namespace halconv::bench
