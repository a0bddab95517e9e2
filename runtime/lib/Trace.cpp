//===- Trace.cpp - what ran when: compute and communication timelines -----===//
#include "tetra/runtime/Trace.h"
#include "tetra/runtime/Error.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

namespace tetra::rt {

Trace &trace() {
  static Trace instance;
  return instance;
}

double Trace::now() const {
  return std::chrono::duration<double>(Clock::now() - origin_).count();
}

void Trace::record(const std::string &track, const std::string &name, double begin,
                   double end, Args args) {
  if (!enabled_)
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  events_.push_back({track, name, begin, end, std::move(args)});
}

void Trace::addExposed(double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  exposed_ += seconds;
}

double Trace::takeExposed() {
  std::lock_guard<std::mutex> lock(mutex_);
  double e = exposed_;
  exposed_ = 0;
  return e;
}

llvm::json::Value chromeTrace(const std::string &label, const std::vector<TraceEvent> &events) {
  namespace json = llvm::json;
  // One thread id per track, compute first; names in metadata events.
  std::map<std::string, int64_t> tids{{"compute", 1}};
  for (const TraceEvent &e : events)
    tids.emplace(e.track, static_cast<int64_t>(tids.size()) + 1);
  json::Array list;
  list.push_back(json::Object{{"ph", "M"}, {"pid", 1}, {"name", "process_name"},
                              {"args", json::Object{{"name", label}}}});
  for (const auto &[track, tid] : tids) {
    list.push_back(json::Object{{"ph", "M"}, {"pid", 1}, {"tid", tid}, {"name", "thread_name"},
                                {"args", json::Object{{"name", track}}}});
    list.push_back(json::Object{{"ph", "M"}, {"pid", 1}, {"tid", tid},
                                {"name", "thread_sort_index"},
                                {"args", json::Object{{"sort_index", tid}}}});
  }
  for (const TraceEvent &e : events) {
    json::Object event{{"ph", "X"}, {"pid", 1}, {"tid", tids.at(e.track)},
                       {"name", e.name}, {"ts", e.begin * 1e6},
                       {"dur", (e.end - e.begin) * 1e6}};
    if (!e.args.empty()) {
      json::Object args;
      for (const auto &[key, value] : e.args)
        args[key] = value;
      event["args"] = std::move(args);
    }
    list.push_back(std::move(event));
  }
  return json::Object{{"traceEvents", std::move(list)}, {"displayTimeUnit", "ms"}};
}

void Trace::write(const std::string &path, const std::string &label) const {
  std::lock_guard<std::mutex> lock(mutex_);
  llvm::json::Value root = chromeTrace(label, events_);
  if (llvm::Error err = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
        os << root;
        return llvm::Error::success();
      }))
    throw Error(path + ": cannot write the trace (" + llvm::toString(std::move(err)) + ")");
}

} // namespace tetra::rt
