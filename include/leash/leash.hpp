// leash/leash.hpp - everything: transport, client, request, response, body, headers, url, errors,
// streams, proxy settings, statistics and trace hooks, and the helpers that build URLs and
// Basic credentials, and multipart forms.
#pragma once

#include <leash/basic_auth.hpp>
#include <leash/body.hpp>
#include <leash/client.hpp>
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
