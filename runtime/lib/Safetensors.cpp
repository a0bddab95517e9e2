//===- Safetensors.cpp - reading and writing .safetensors checkpoints -----===//
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the data, offsets relative to its start.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Safetensors.h"
#include "tetra/runtime/Error.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

namespace tetra::rt {
namespace json = llvm::json;

namespace {

float bf16ToFloat(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &word, 4);
  return f;
}

float f16ToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t word;
  if (exp == 0) {
    if (mant == 0) {
      word = sign;
    } else { // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      word = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    word = sign | 0x7f800000u | (mant << 13);
  } else {
    word = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &word, 4);
  return f;
}

} // namespace

std::map<std::string, Tensor> readSafetensors(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    throw Error(path + ": cannot read checkpoint (" + buffer.getError().message() + ")");
  llvm::StringRef bytes = (*buffer)->getBuffer();
  if (bytes.size() < 8)
    throw Error(path + ": not a safetensors file (shorter than its header)");
  uint64_t headerSize;
  std::memcpy(&headerSize, bytes.data(), 8);
  if (headerSize > bytes.size() - 8)
    throw Error(path + ": corrupt safetensors header (length " +
                std::to_string(headerSize) + " exceeds the file)");
  llvm::Expected<json::Value> header = json::parse(bytes.substr(8, headerSize));
  if (!header)
    throw Error(path + ": corrupt safetensors header: " + llvm::toString(header.takeError()));
  const json::Object *root = header->getAsObject();
  if (!root)
    throw Error(path + ": corrupt safetensors header (not an object)");
  const char *data = bytes.data() + 8 + headerSize;
  size_t dataSize = bytes.size() - 8 - headerSize;

  std::map<std::string, Tensor> tensors;
  for (const auto &[key, value] : *root) {
    std::string name = key.str();
    if (name == "__metadata__")
      continue;
    const json::Object *info = value.getAsObject();
    const json::Array *shape = info ? info->getArray("shape") : nullptr;
    const json::Array *offsets = info ? info->getArray("data_offsets") : nullptr;
    std::optional<llvm::StringRef> dtype = info ? info->getString("dtype") : std::nullopt;
    if (!shape || !offsets || offsets->size() != 2 || !dtype)
      throw Error(path + ": tensor " + name + " has a malformed entry");
    std::vector<int64_t> dims;
    for (const json::Value &d : *shape)
      dims.push_back(d.getAsInteger().value_or(-1));
    uint64_t begin = (*offsets)[0].getAsUINT64().value_or(~0ull);
    uint64_t end = (*offsets)[1].getAsUINT64().value_or(~0ull);
    DType out = DType::F32;
    size_t elementSize = 4;
    if (*dtype == "F32")
      elementSize = 4;
    else if (*dtype == "BF16" || *dtype == "F16")
      elementSize = 2;
    else if (*dtype == "I32")
      out = DType::I32;
    else if (*dtype == "I64")
      out = DType::I64, elementSize = 8;
    else
      throw Error(path + ": tensor " + name + " has unsupported dtype " + dtype->str());
    Tensor tensor(out, dims);
    for (int64_t d : dims)
      if (d < 0)
        throw Error(path + ": tensor " + name + " has a malformed shape");
    if (begin > end || end > dataSize ||
        end - begin != static_cast<uint64_t>(tensor.numElements()) * elementSize)
      throw Error(path + ": tensor " + name + " has data offsets that do not match its " +
                  "shape " + tensor.shapeString() + " and dtype " + dtype->str() +
                  " (the file may be truncated)");
    const char *src = data + begin;
    if (*dtype == "BF16" || *dtype == "F16") {
      float *dst = tensor.as<float>();
      for (int64_t i = 0; i < tensor.numElements(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        dst[i] = *dtype == "BF16" ? bf16ToFloat(bits) : f16ToFloat(bits);
      }
    } else {
      std::memcpy(tensor.data(), src, tensor.numBytes());
    }
    tensors.emplace(name, std::move(tensor));
  }
  return tensors;
}

SafetensorsLayout planSafetensors(const std::map<std::string, TensorInfo> &tensors,
                                  const std::map<std::string, std::string> &metadata) {
  json::Object header;
  uint64_t offset = 0;
  std::map<std::string, uint64_t> relative;
  for (const auto &[name, info] : tensors) {
    json::Array shape;
    uint64_t bytes = dtypeSize(info.dtype);
    for (int64_t d : info.shape) {
      shape.push_back(d);
      bytes *= d;
    }
    const char *dtype = info.dtype == DType::F32    ? "F32"
                        : info.dtype == DType::BF16 ? "BF16"
                        : info.dtype == DType::I32  ? "I32"
                                                    : "I64";
    header[name] = json::Object{{"dtype", dtype},
                                {"shape", std::move(shape)},
                                {"data_offsets", json::Array{offset, offset + bytes}}};
    relative[name] = offset;
    offset += bytes;
  }
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto &[k, v] : metadata)
      meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::string text;
  llvm::raw_string_ostream(text) << json::Value(std::move(header));
  // Pad the header with spaces to 8 bytes, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');
  SafetensorsLayout layout;
  uint64_t size = text.size();
  layout.head.assign(reinterpret_cast<const char *>(&size), 8);
  layout.head += text;
  for (const auto &[name, at] : relative)
    layout.offset[name] = layout.head.size() + at;
  layout.size = layout.head.size() + offset;
  return layout;
}

void writeSafetensors(const std::string &path, const std::map<std::string, Tensor> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  std::map<std::string, TensorInfo> infos;
  for (const auto &[name, tensor] : tensors)
    infos[name] = {tensor.dtype(), tensor.shape()};
  SafetensorsLayout layout = planSafetensors(infos, metadata);
  // writeToOutput writes a temporary file and renames it over `path`.
  if (llvm::Error err = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
        os << layout.head;
        for (const auto &[name, tensor] : tensors)
          os.write(static_cast<const char *>(tensor.data()), tensor.numBytes());
        return llvm::Error::success();
      }))
    throw Error(path + ": cannot write checkpoint (" + llvm::toString(std::move(err)) + ")");
}

} // namespace tetra::rt
