// Test support (see test_support.h).
#include "test_support.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <chrono>
#include <sstream>

namespace tally::http_test {
namespace {

std::string Base64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (in.size() - i == 1) {
    const uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (in.size() - i == 2) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

// --- RFC 8941 lists ---------------------------------------------------------

class SfParser {
 public:
  explicit SfParser(std::string_view text) : s_(text) {}

  std::optional<std::vector<SfItem>> List(std::string* error) {
    std::vector<SfItem> out;
    SkipSp();
    if (AtEnd()) return out;  // an empty list
    while (true) {
      SfItem item;
      if (!Item(&item)) return Fail(error);
      out.push_back(std::move(item));
      SkipOws();
      if (AtEnd()) return out;
      if (s_[i_] != ',') return Fail(error, "expected ',' between members");
      ++i_;
      SkipOws();
      if (AtEnd()) return Fail(error, "trailing ','");
    }
  }

 private:
  bool AtEnd() const { return i_ >= s_.size(); }
  void SkipSp() {
    while (!AtEnd() && s_[i_] == ' ') ++i_;
  }
  void SkipOws() {
    while (!AtEnd() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  std::nullopt_t Fail(std::string* error, std::string why = "") {
    if (why.empty()) why = why_;
    if (error != nullptr)
      *error = why + " at offset " + std::to_string(i_) + " of \"" + std::string(s_) + "\"";
    return std::nullopt;
  }

  bool BareItem(SfItem::Kind* kind, std::string* value) {
    if (AtEnd()) return Why("expected an item");
    const char c = s_[i_];
    if (c == '"') {
      *kind = SfItem::Kind::kString;
      ++i_;
      while (true) {
        if (AtEnd()) return Why("unterminated string");
        const char d = s_[i_++];
        if (d == '\\') {
          if (AtEnd() || (s_[i_] != '"' && s_[i_] != '\\')) return Why("bad escape in string");
          value->push_back(s_[i_++]);
        } else if (d == '"') {
          return true;
        } else if (d < 0x20 || d > 0x7e) {
          return Why("control or non-ASCII character in string");
        } else {
          value->push_back(d);
        }
      }
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      *kind = SfItem::Kind::kInteger;
      if (c == '-') value->push_back(s_[i_++]);
      size_t digits = 0;
      while (!AtEnd() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
        value->push_back(s_[i_++]);
        ++digits;
      }
      if (digits == 0 || digits > 15) return Why("an integer has 1 to 15 digits");
      if (!AtEnd() && s_[i_] == '.') return Why("decimals are not expected here");
      return true;
    }
    if (c == '?') {
      *kind = SfItem::Kind::kBoolean;
      ++i_;
      if (AtEnd() || (s_[i_] != '0' && s_[i_] != '1')) return Why("bad boolean");
      *value = std::string("?") + s_[i_++];
      return true;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '*') {
      *kind = SfItem::Kind::kToken;
      while (!AtEnd()) {
        const char d = s_[i_];
        if (std::isalnum(static_cast<unsigned char>(d)) ||
            std::string_view("!#$%&'*+-.^_`|~:/").find(d) != std::string_view::npos) {
          value->push_back(d);
          ++i_;
        } else {
          break;
        }
      }
      return true;
    }
    return Why("not a string, integer, boolean or token");
  }

  bool Item(SfItem* item) {
    if (!BareItem(&item->kind, &item->value)) return false;
    while (!AtEnd() && s_[i_] == ';') {
      ++i_;
      SkipSp();
      std::string key;
      if (AtEnd() || !(std::islower(static_cast<unsigned char>(s_[i_])) || s_[i_] == '*')) {
        return Why("a parameter key starts with a lowercase letter or '*'");
      }
      while (!AtEnd()) {
        const char d = s_[i_];
        if (std::islower(static_cast<unsigned char>(d)) ||
            std::isdigit(static_cast<unsigned char>(d)) || d == '_' || d == '-' || d == '.' ||
            d == '*') {
          key.push_back(d);
          ++i_;
        } else {
          break;
        }
      }
      SfItem::Param param;
      param.value = "?1";
      if (!AtEnd() && s_[i_] == '=') {
        ++i_;
        param.value.clear();
        if (!BareItem(&param.kind, &param.value)) return false;
      }
      if (item->params.count(key) != 0) return Why("parameter " + key + " given twice");
      item->params[key] = std::move(param);
    }
    return true;
  }

  bool Why(std::string why) {
    why_ = std::move(why);
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string why_;
};

}  // namespace

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string SignJwt(const json::object& claims, std::string_view secret) {
  const std::string signing_input =
      Base64Url(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64Url(json::serialize(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_len);
  return signing_input + "." +
         Base64Url(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

std::string UserToken(const std::string& subject, int64_t expires_in_s) {
  const int64_t now = NowSeconds();
  return SignJwt(json::object{{"sub", subject}, {"iat", now - 10}, {"exp", now + expires_in_s}});
}

json::object EventBody(const std::string& id, const std::string& subject, const json::object& data,
                       const std::string& type) {
  json::object o{{"id", id}, {"subject", subject}, {"type", type}};
  if (!data.empty()) o["data"] = data;
  return o;
}

::testing::AssertionResult IsError(const Response& r, int status, std::string_view code,
                                   std::optional<std::string> field, bool only_error) {
  if (r.status != status) {
    return ::testing::AssertionFailure()
           << "expected " << status << " " << code << ", got " << r.Describe();
  }
  if (r.Header("Content-Type").rfind("application/json", 0) != 0) {
    return ::testing::AssertionFailure()
           << "error without a JSON content type: " << r.Header("Content-Type");
  }
  bool ok = false;
  const json::value body = r.Json(&ok);
  if (!ok || !body.is_object())
    return ::testing::AssertionFailure() << "error body is not a JSON object: " << r.body;
  const json::object& o = body.as_object();
  const json::value* error = o.if_contains("error");
  if (error == nullptr || !error->is_object()) {
    return ::testing::AssertionFailure() << "no \"error\" object: " << r.body;
  }
  if (only_error && o.size() != 1)
    return ::testing::AssertionFailure() << "more than \"error\" in " << r.body;
  const json::object& e = error->as_object();
  const json::value* c = e.if_contains("code");
  if (c == nullptr || !c->is_string() || c->as_string() != code) {
    return ::testing::AssertionFailure() << "expected code " << code << ": " << r.body;
  }
  const json::value* m = e.if_contains("message");
  if (m == nullptr || !m->is_string() || m->as_string().empty()) {
    return ::testing::AssertionFailure() << "no message: " << r.body;
  }
  if (field.has_value()) {
    const json::value* f = e.if_contains("field");
    if (f == nullptr || !f->is_string() || f->as_string() != *field) {
      return ::testing::AssertionFailure() << "expected field \"" << *field << "\": " << r.body;
    }
  } else if (const json::value* f = e.if_contains("field"); f != nullptr && !f->is_string()) {
    return ::testing::AssertionFailure() << "field is not a string: " << r.body;
  }
  if (only_error) {
    for (const auto& kv : e) {
      if (kv.key() != "code" && kv.key() != "message" && kv.key() != "field") {
        return ::testing::AssertionFailure()
               << "unexpected key " << kv.key() << " in error: " << r.body;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

const json::object* FindQuota(const json::value& quotas, std::string_view meter,
                              std::string_view scope) {
  if (!quotas.is_array()) return nullptr;
  for (const json::value& q : quotas.as_array()) {
    if (!q.is_object()) continue;
    const json::object& o = q.as_object();
    const json::value* m = o.if_contains("meter");
    const json::value* s = o.if_contains("scope");
    if (m != nullptr && s != nullptr && m->is_string() && s->is_string() &&
        m->as_string() == meter && s->as_string() == scope) {
      return &o;
    }
  }
  return nullptr;
}

int64_t UsedOf(const json::value& quotas, std::string_view meter, std::string_view scope) {
  const json::object* q = FindQuota(quotas, meter, scope);
  if (q == nullptr) return -1;
  const json::value* used = q->if_contains("used");
  return used != nullptr && used->is_int64() ? used->as_int64() : -1;
}

int64_t CurrentUsed(HttpClient& client, const std::string& subject, std::string_view meter,
                    std::string_view scope) {
  const Response r = client.Get("/api/usage/current?user_id=" + subject);
  if (r.status != 200) {
    ADD_FAILURE() << "usage/current of " << subject << ": " << r.Describe();
    return -1;
  }
  const json::value body = r.Json();
  if (!body.is_object() || !body.as_object().contains("quotas")) {
    ADD_FAILURE() << "usage/current without quotas: " << r.body;
    return -1;
  }
  const int64_t used = UsedOf(body.as_object().at("quotas"), meter, scope);
  if (used < 0)
    ADD_FAILURE() << "usage/current has no " << scope << " quota on " << meter << ": " << r.body;
  return used;
}

std::string CreateKey(HttpClient& admin, const std::string& role, const json::object& extra) {
  json::object body = extra;
  body["role"] = role;
  const Response r = admin.Post("/api/admin/keys", json::value(body));
  if (r.status != 201) {
    ADD_FAILURE() << "POST /api/admin/keys: " << r.Describe();
    return "";
  }
  const json::value v = r.Json();
  if (!v.is_object() || !v.as_object().contains("key") || !v.as_object().at("key").is_string()) {
    ADD_FAILURE() << "no key in " << r.body;
    return "";
  }
  return std::string(v.as_object().at("key").as_string());
}

std::optional<std::vector<SfItem>> ParseSfList(std::string_view text, std::string* error) {
  return SfParser(text).List(error);
}

double MetricValue(const std::string& metrics, const std::string& prefix) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos || space + 1 >= line.size()) continue;
    // The name must end right after the prefix (or continue with its labels).
    const char next = line.size() > prefix.size() ? line[prefix.size()] : ' ';
    if (next != ' ' && next != '{' && prefix.back() != '}') continue;
    return std::stod(line.substr(space + 1));
  }
  return -1;
}

int64_t ProcStatus(pid_t pid, std::string_view field) {
  if (pid <= 0) return -1;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  const std::string prefix = std::string(field) + ":";
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size()));
  }
  return -1;
}

const json::value& At(const json::value& v, std::string_view key) {
  static const json::value kNull;
  if (!v.is_object()) return kNull;
  const json::value* found = v.as_object().if_contains(key);
  return found == nullptr ? kNull : *found;
}

std::string Str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

int64_t Int(const json::value& v) {
  return v.is_int64() ? v.as_int64() : (v.is_uint64() ? int64_t(v.as_uint64()) : -999);
}

}  // namespace tally::http_test
