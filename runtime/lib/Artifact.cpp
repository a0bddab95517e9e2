//===- Artifact.cpp - manifest, kernels and calls into them ---------------===//
#include "tetra/runtime/Artifact.h"
#include "tetra/runtime/Device.h"
#include "tetra/runtime/Error.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <dlfcn.h>

namespace tetra::rt {
namespace json = llvm::json;

namespace {

std::vector<int64_t> readShape(const json::Object &o, const std::string &file,
                               const std::string &what, llvm::StringRef key = "shape") {
  const json::Array *shape = o.getArray(key);
  if (!shape)
    throw Error(file + ": " + what + " has no shape");
  std::vector<int64_t> dims;
  for (const json::Value &d : *shape) {
    std::optional<int64_t> n = d.getAsInteger();
    if (!n || *n < 0)
      throw Error(file + ": " + what + " has a malformed shape");
    dims.push_back(*n);
  }
  return dims;
}

std::vector<Axis> readAxes(const json::Array *list, const std::string &file,
                           const std::string &what) {
  std::vector<Axis> axes;
  if (!list)
    return axes;
  for (const json::Value &v : *list) {
    std::optional<llvm::StringRef> name = v.getAsString();
    if (name == "x")
      axes.push_back(Axis::X);
    else if (name == "y")
      axes.push_back(Axis::Y);
    else if (name == "z")
      axes.push_back(Axis::Z);
    else if (name == "data")
      axes.push_back(Axis::Data);
    else
      throw Error(file + ": " + what + " names an unknown grid axis");
  }
  return axes;
}

DType readDType(const json::Object &o, const std::string &file, const std::string &what) {
  std::optional<llvm::StringRef> d = o.getString("dtype");
  if (d == "f32")
    return DType::F32;
  if (d == "bf16")
    return DType::BF16;
  if (d == "i32")
    return DType::I32;
  if (d == "i64")
    return DType::I64;
  throw Error(file + ": " + what + " has unsupported dtype '" + (d ? d->str() : "") + "'");
}

} // namespace

Manifest readManifest(const std::string &dir) {
  std::string file = dir + "/manifest.json";
  auto buffer = llvm::MemoryBuffer::getFile(file);
  if (!buffer)
    throw Error(file + ": cannot read (" + buffer.getError().message() +
                "); is " + dir + " an artifact written by tetra-compile?");
  llvm::Expected<json::Value> parsed = json::parse((*buffer)->getBuffer());
  if (!parsed)
    throw Error(file + ": malformed JSON: " + llvm::toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root || root->getString("format") != "tetra-artifact")
    throw Error(file + ": not a tetra artifact manifest");
  Manifest m;
  m.version = root->getInteger("version").value_or(0);
  if (m.version != kArtifactVersion)
    throw Error(file + ": artifact version " + std::to_string(m.version) +
                " is not supported by this runtime (it reads version " +
                std::to_string(kArtifactVersion) + "); recompile with tetra-compile");
  m.machine = root->getString("machine").value_or("").str();
  m.microBatch = root->getInteger("micro_batch").value_or(0);
  m.seqLen = root->getInteger("seq_len").value_or(0);
  m.globalBatch = root->getInteger("global_batch").value_or(m.microBatch);
  m.kernels = root->getString("kernels").value_or("").str();
  m.plan = root->getString("plan").value_or("").str();
  if (const json::Object *gpu = root->getObject("gpu")) {
    m.gpuCodegen = gpu->getString("codegen").value_or("").str();
    m.gpuChip = gpu->getString("chip").value_or("").str();
    if (m.gpuCodegen.empty())
      throw Error(file + ": gpu.codegen is missing");
  }
  if (const json::Object *model = root->getObject("model")) {
    m.family = model->getString("family").value_or("").str();
    m.vocab = model->getInteger("vocab").value_or(0);
  }
  if (const json::Object *grid = root->getObject("grid")) {
    int i = 0;
    for (const char *axis : {"x", "y", "z", "data"}) {
      m.grid.sizes[i++] = grid->getInteger(axis).value_or(1);
      if (m.grid.sizes[i - 1] < 1)
        throw Error(file + ": grid size of " + axis + " must be positive");
    }
  }
  if (m.microBatch < 1 || m.seqLen < 1 || m.vocab < 1 || m.kernels.empty())
    throw Error(file + ": missing micro_batch, seq_len, model.vocab or kernels");
  if (const json::Array *params = root->getArray("params"))
    for (const json::Value &v : *params) {
      const json::Object *p = v.getAsObject();
      if (!p)
        throw Error(file + ": malformed params");
      ParamSpec spec;
      spec.name = p->getString("name").value_or("").str();
      spec.shape = readShape(*p, file, "parameter " + spec.name);
      spec.localShape = spec.shape;
      if (p->getArray("local_shape"))
        spec.localShape = readShape(*p, file, "parameter " + spec.name, "local_shape");
      if (const json::Object *layout = p->getObject("layout")) {
        if (const json::Array *dims = layout->getArray("dims"))
          for (const json::Value &d : *dims)
            spec.dims.push_back(readAxes(d.getAsArray(), file, "parameter " + spec.name));
        spec.flat = readAxes(layout->getArray("flat"), file, "parameter " + spec.name);
        if (spec.dims.size() != spec.shape.size())
          throw Error(file + ": parameter " + spec.name + " has a layout of another rank");
      }
      if (const json::Object *init = p->getObject("init")) {
        spec.init = init->getString("kind").value_or("").str();
        spec.std = init->getNumber("std").value_or(0);
      }
      m.params.push_back(std::move(spec));
    }
  const json::Object *entries = root->getObject("entries");
  if (!entries)
    throw Error(file + ": no entries");
  for (const auto &[name, value] : *entries) {
    const json::Object *e = value.getAsObject();
    const json::Array *args = e ? e->getArray("args") : nullptr;
    if (!args)
      throw Error(file + ": malformed entry " + name.str());
    EntrySpec entry;
    entry.symbol = e->getString("symbol").value_or("").str();
    entry.peakTemporaryBytes = e->getInteger("peak_temporary_bytes").value_or(0);
    if (const json::Object *work = e->getObject("work")) {
      entry.workBytes = work->getNumber("memory_bytes").value_or(0);
      entry.gemmFlops = work->getNumber("gemm_flops").value_or(0);
    }
    auto readList = [&](const json::Array *list, std::vector<ArgSpec> &out) {
      if (!list)
        return;
      for (const json::Value &a : *list) {
        const json::Object *o = a.getAsObject();
        if (!o)
          throw Error(file + ": malformed argument of " + name.str());
        ArgSpec arg;
        arg.role = o->getString("role").value_or("").str();
        arg.name = o->getString("name").value_or("").str();
        arg.dtype = readDType(*o, file, "an argument of " + name.str());
        arg.shape = readShape(*o, file, "an argument of " + name.str());
        arg.scalar = o->getBoolean("scalar").value_or(false);
        out.push_back(std::move(arg));
      }
    };
    readList(args, entry.args);
    readList(e->getArray("results"), entry.results);
    m.entries[name.str()] = std::move(entry);
  }
  return m;
}

KernelLibrary::KernelLibrary(const std::string &path) : path_(path) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_)
    throw Error(path + ": cannot load kernels: " + dlerror());
}

KernelLibrary::~KernelLibrary() {
  if (handle_)
    dlclose(handle_);
}

KernelLibrary::PackedFn KernelLibrary::lookup(const std::string &symbol) const {
  void *fn = dlsym(handle_, symbol.c_str());
  if (!fn)
    throw Error(path_ + ": no entry point " + symbol);
  return reinterpret_cast<PackedFn>(fn);
}

Artifact::Artifact(const std::string &dir) : dir_(dir), manifest_(readManifest(dir)) {
  // The kernels' host code loads its GPU kernels as the library loads.
  if (!manifest_.gpuCodegen.empty() && device().name == std::string("cpu"))
    loadDeviceBackend(manifest_.gpuCodegen);
  kernels_ = std::make_unique<KernelLibrary>(dir + "/" + manifest_.kernels);
  if (!manifest_.plan.empty())
    plan_ = readPlan(dir + "/" + manifest_.plan);
}

const Plan &Artifact::plan() const {
  if (!plan_)
    throw Error(dir_ + ": the artifact has no plan; recompile it with tetra-compile");
  return *plan_;
}

const EntrySpec &Artifact::entry(const std::string &name) const {
  auto it = manifest_.entries.find(name);
  if (it == manifest_.entries.end())
    throw Error(dir_ + ": the artifact has no entry '" + name + "'");
  return it->second;
}

int64_t Artifact::peakTemporaryBytes(const std::string &name) const {
  return hasEntry(name) ? entry(name).peakTemporaryBytes : 0;
}

std::vector<Tensor> Artifact::call(const std::string &name, const Binder &bind,
                                   const Binder &outputs) const {
  const EntrySpec &spec = entry(name);
  std::vector<Tensor> results(spec.results.size());
  std::vector<Tensor *> out;
  for (size_t i = 0; i < spec.results.size(); ++i) {
    Tensor *bound = outputs ? outputs(spec.results[i]) : nullptr;
    if (!bound) {
      results[i] = Tensor(spec.results[i].dtype, spec.results[i].shape);
      bound = &results[i];
    }
    out.push_back(bound);
  }
  std::vector<void *> argv;
  auto push = [&](const ArgSpec &arg, Tensor *tensor) {
    std::string what = arg.role + (arg.name.empty() ? "" : " " + arg.name);
    if (!tensor)
      throw Error("entry " + name + " needs its " + what + " argument");
    if (tensor->dtype() != arg.dtype || tensor->shape() != arg.shape)
      throw Error("entry " + name + ": " + what + " is " + dtypeName(tensor->dtype()) +
                  tensor->shapeString() + ", the artifact expects " + dtypeName(arg.dtype) +
                  Tensor(arg.dtype, arg.shape).shapeString());
    argv.push_back(arg.scalar ? tensor->data() : tensor->descriptor().data());
  };
  for (const ArgSpec &arg : spec.args)
    push(arg, bind(arg));
  for (size_t i = 0; i < spec.results.size(); ++i)
    push(spec.results[i], out[i]);
  kernels_->lookup(spec.symbol)(argv.data());
  return results;
}

} // namespace tetra::rt
