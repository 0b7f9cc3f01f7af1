// Resolving a URI reference (a redirect's Location, a link) against a base URI, as RFC 3986
// section 5.2 specifies it (the strict parser: "http:g" is the absolute URI it says it is).
// Pure string work without I/O: the components are split as the RFC's appendix B does, so
// resolve_reference() neither validates nor normalises anything beyond removing dot
// segments; the caller parses the result (url::parse) before using it.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

namespace leash::detail {

// The five components of a URI reference (RFC 3986 appendix B). A component that is absent
// is empty std::optional; "http://h?" has an empty query, "http://h" none.
struct uri_components {
    std::optional<std::string_view> scheme;
    std::optional<std::string_view> authority;
    std::string_view path;
    std::optional<std::string_view> query;
    std::optional<std::string_view> fragment;
};

inline uri_components split_uri_reference(std::string_view text) noexcept
{
    uri_components parts;
    if (const auto colon = text.find_first_of(":/?#"); colon != std::string_view::npos && colon > 0 && text[colon] == ':') {
        parts.scheme = text.substr(0, colon);
        text.remove_prefix(colon + 1);
    }
    if (text.starts_with("//")) {
        text.remove_prefix(2);
        const auto end = std::min(text.find_first_of("/?#"), text.size());
        parts.authority = text.substr(0, end);
        text.remove_prefix(end);
    }
    if (const auto hash = text.find('#'); hash != std::string_view::npos) {
        parts.fragment = text.substr(hash + 1);
        text = text.substr(0, hash);
    }
    if (const auto question = text.find('?'); question != std::string_view::npos) {
        parts.query = text.substr(question + 1);
        text = text.substr(0, question);
    }
    parts.path = text;
    return parts;
}

// RFC 3986 section 5.2.4: "." and ".." segments removed from a path.
inline std::string remove_dot_segments(std::string_view in)
{
    std::string out;
    const auto drop_last_segment = [&out] {
        const auto slash = out.rfind('/');
        out.erase(slash == std::string::npos ? 0 : slash);
    };
    while (!in.empty()) {
        if (in.starts_with("../")) {
            in.remove_prefix(3);
        } else if (in.starts_with("./") || in.starts_with("/./")) {
            in.remove_prefix(2);
        } else if (in == "/.") {
            in = "/";
        } else if (in.starts_with("/../")) {
            in.remove_prefix(3);
            drop_last_segment();
        } else if (in == "/..") {
            in = "/";
            drop_last_segment();
        } else if (in == "." || in == "..") {
            in = {};
        } else {  // the first segment, with its leading "/" if any
            const auto end = std::min(in.find('/', 1), in.size());
            out.append(in.substr(0, end));
            in.remove_prefix(end);
        }
    }
    return out;
}

// RFC 3986 section 5.2.3: a relative path merged with the base's.
inline std::string merge_paths(const uri_components& base, std::string_view reference_path)
{
    if (base.authority && base.path.empty())
        return "/" + std::string(reference_path);
    const auto slash = base.path.rfind('/');
    if (slash == std::string_view::npos)
        return std::string(reference_path);
    return std::string(base.path.substr(0, slash + 1)) + std::string(reference_path);
}

// RFC 3986 section 5.3: the components written back as one string.
inline std::string recompose(const uri_components& parts)
{
    std::string out;
    if (parts.scheme)
        out.append(*parts.scheme).push_back(':');
    if (parts.authority)
        out.append("//").append(*parts.authority);
    out.append(parts.path);
    if (parts.query)
        out.append("?").append(*parts.query);
    if (parts.fragment)
        out.append("#").append(*parts.fragment);
    return out;
}

// The target URI of `reference` resolved against `base` (RFC 3986 section 5.2.2), or nothing
// when `base` has no scheme (a base URI must be absolute).
inline std::optional<std::string> resolve_reference(std::string_view base, std::string_view reference)
{
    const uri_components b = split_uri_reference(base);
    if (!b.scheme)
        return std::nullopt;
    const uri_components r = split_uri_reference(reference);
    uri_components t;
    std::string path;  // owns t.path when it is computed
    t.fragment = r.fragment;
    if (r.scheme) {
        t.scheme = r.scheme;
        t.authority = r.authority;
        path = remove_dot_segments(r.path);
        t.query = r.query;
    } else {
        t.scheme = b.scheme;
        if (r.authority) {
            t.authority = r.authority;
            path = remove_dot_segments(r.path);
            t.query = r.query;
        } else {
            t.authority = b.authority;
            if (r.path.empty()) {
                path = std::string(b.path);
                t.query = r.query ? r.query : b.query;
            } else {
                path = remove_dot_segments(r.path.starts_with('/') ? std::string(r.path) : merge_paths(b, r.path));
                t.query = r.query;
            }
        }
    }
    t.path = path;
    return recompose(t);
}

} // namespace leash::detail
