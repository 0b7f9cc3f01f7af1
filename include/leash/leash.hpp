/// \file
/// leash/leash.hpp - everything: transport, client, request, response, body, headers, url, errors,
/// streams, proxy settings, statistics and trace hooks, and the helpers that build URLs and
/// Basic credentials, and multipart forms.

/// \namespace leash
/// leash, a C++20 HTTP/1.1 client on standalone Asio, OpenSSL and llhttp: a response body you
/// forget cannot leak a connection, a file descriptor, a timer or a coroutine, and no request
/// can wait forever unless you asked it to. Its implementation is in leash::detail, which is
/// not part of the API.
#pragma once

#include <leash/basic_auth.hpp>
#include <leash/body.hpp>
#include <leash/client.hpp>
#include <leash/client_options.hpp>
#include <leash/decoding_options.hpp>
#include <leash/error.hpp>
#include <leash/headers.hpp>
#include <leash/multipart.hpp>
#include <leash/proxy.hpp>
#include <leash/redirect_policy.hpp>
#include <leash/request.hpp>
#include <leash/response.hpp>
#include <leash/retry_policy.hpp>
#include <leash/sse.hpp>
#include <leash/sse_reader.hpp>
#include <leash/stats.hpp>
#include <leash/tls_error.hpp>
#include <leash/tls_options.hpp>
#include <leash/trace.hpp>
#include <leash/transport.hpp>
#include <leash/transport_options.hpp>
#include <leash/url.hpp>
#include <leash/url_encoding.hpp>
#include <leash/version.hpp>
