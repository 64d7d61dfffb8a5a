// pg_http.cpp: authflow.http, the one entry point of the HTTP API, in front of its SQL
// definition, authflow.http_serve.
//
// The hot route, GET /api/v1/sessions/current with "Authorization: Bearer <access token>" and no
// tenant header (the default tenant), is answered here: the lookup of session_validate, the body
// of http_session_json, the headers of http_session_headers (taken from SQL once per backend).
// A token that finds no session of the tenant is answered by http_session_refused; every other
// request (another route, a tenant header, Stack's token headers, NULL arguments) by http_serve.
// That saves the hot route a PL/pgSQL call with its GUC switch, a jsonb value built per request
// and a second result set. tests/sql/http.sql holds the answers equal to http_serve's.
//
// The functions and values taken from SQL are found once per backend and kept in a Router, which
// a pg_proc invalidation (any function created, replaced or dropped, an extension update) drops.
// Like session_validate it reads the tables directly and resolves nothing by the caller's
// search_path while serving; the SQL it calls to resolve runs with search_path pinned.
#include <cstring>
#include <string_view>

#include "pg_guard.hpp"
#include "pg_session_json.hpp"
#include "pg_values.hpp"
#include "token.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "funcapi.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

namespace {

constexpr std::string_view kMethod = "GET";
constexpr std::string_view kPath = "/api/v1/sessions/current";
constexpr std::string_view kScheme = "bearer "; // compared without case, as http_access_token does

// Router is what authflow.http takes from SQL, as of the last pg_proc invalidation.
struct Router {
  bool valid;
  MemoryContext context;
  FmgrInfo serve;   // authflow.http_serve(text, text, jsonb, text)
  FmgrInfo refused; // authflow.http_session_refused(jsonb, text)
  int tenant_header_count;
  char **tenant_headers; // authflow.http_header_names('tenant')
  Datum default_tenant;  // authflow.http_tenant_name('{}'): the tenant without a header
  Datum ok_headers;      // authflow.http_session_headers(default_tenant)
};

Router router;
bool callback_registered = false;

// ForgetRouter is the pg_proc invalidation callback.
void ForgetRouter(Datum, int, uint32) { router.valid = false; }

Oid FunctionOid(const char *name, int arguments, const Oid *types) {
  List *qualified = list_make2(makeString(pstrdup("authflow")), makeString(pstrdup(name)));
  return LookupFuncName(qualified, arguments, types, false);
}

// OwnerOf is the role owning a function.
Oid OwnerOf(Oid function) {
  HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(function));
  if (!HeapTupleIsValid(tuple))
    elog(ERROR, "authflow: function %u is missing", function);
  const Oid owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple))->proowner;
  ReleaseSysCache(tuple);
  return owner;
}

// ResolveRouter finds the SQL side (when the router was forgotten), as the owner of authflow.http
// (the caller, the gateway's role, may execute nothing else) and with search_path pinned.
void ResolveRouter(Oid self) {
  if (!callback_registered) {
    CacheRegisterSyscacheCallback(PROCOID, ForgetRouter, static_cast<Datum>(0));
    callback_registered = true;
  }
  if (router.context == nullptr)
    router.context = AllocSetContextCreate(TopMemoryContext, "authflow.http", ALLOCSET_SMALL_SIZES);
  else
    MemoryContextReset(router.context);
  router.valid = true; // an invalidation while resolving makes the next call resolve again

  Oid caller;
  int security_context;
  GetUserIdAndSecContext(&caller, &security_context);
  SetUserIdAndSecContext(OwnerOf(self), security_context | SECURITY_LOCAL_USERID_CHANGE);
  const int nest_level = NewGUCNestLevel();
  set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  const Oid serve_types[4] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID};
  const Oid refused_types[2] = {JSONBOID, TEXTOID};
  const Oid text_type[1] = {TEXTOID};
  const Oid jsonb_type[1] = {JSONBOID};
  fmgr_info_cxt(FunctionOid("http_serve", 4, serve_types), &router.serve, router.context);
  fmgr_info_cxt(FunctionOid("http_session_refused", 2, refused_types), &router.refused, router.context);
  const Datum names = OidFunctionCall1(FunctionOid("http_header_names", 1, text_type), CStringGetTextDatum("tenant"));
  Datum *elements;
  bool *element_nulls;
  int count;
  deconstruct_array(DatumGetArrayTypeP(names), TEXTOID, -1, false, TYPALIGN_INT, &elements, &element_nulls, &count);
  const Datum tenant = OidFunctionCall1(FunctionOid("http_tenant_name", 1, jsonb_type),
                                        DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
  const Datum headers = OidFunctionCall1(FunctionOid("http_session_headers", 1, text_type), tenant);

  MemoryContext previous = MemoryContextSwitchTo(router.context);
  router.tenant_headers = static_cast<char **>(palloc(sizeof(char *) * static_cast<std::size_t>(count)));
  router.tenant_header_count = 0;
  for (int i = 0; i < count; ++i) {
    if (!element_nulls[i])
      router.tenant_headers[router.tenant_header_count++] = TextDatumGetCString(elements[i]);
  }
  router.default_tenant = datumCopy(tenant, false, -1);
  router.ok_headers = datumCopy(headers, false, -1);
  MemoryContextSwitchTo(previous);
  AtEOXact_GUC(true, nest_level);
  SetUserIdAndSecContext(caller, security_context);
}

std::string_view TextView(const text *value) { return {VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)}; }

// PutRow adds a composite http_response to the result set.
void PutRow(ReturnSetInfo *result, Datum row) {
  HeapTupleHeader header = DatumGetHeapTupleHeader(row);
  HeapTupleData tuple;
  tuple.t_len = HeapTupleHeaderGetDatumLength(header);
  ItemPointerSetInvalid(&tuple.t_self);
  tuple.t_tableOid = InvalidOid;
  tuple.t_data = header;
  tuplestore_puttuple(result->setResult, &tuple);
}

// BearerToken is the token of "Authorization: Bearer <token>", or false when the request has none
// (then http_serve looks elsewhere, e.g. in Stack's token headers).
bool BearerToken(Jsonb *headers, std::string_view *token) {
  JsonbValue value;
  if (getKeyJsonValueFromContainer(&headers->root, "authorization", 13, &value) == nullptr || value.type != jbvString)
    return false;
  std::string_view credentials(value.val.string.val, static_cast<std::size_t>(value.val.string.len));
  if (credentials.size() < kScheme.size() || pg_strncasecmp(credentials.data(), kScheme.data(), kScheme.size()) != 0)
    return false;
  credentials.remove_prefix(kScheme.size());
  while (!credentials.empty() && credentials.front() == ' ')
    credentials.remove_prefix(1);
  *token = credentials;
  return true;
}

// ServeSessionCurrent answers the hot route when the request is one it serves; false otherwise.
bool ServeSessionCurrent(FunctionCallInfo fcinfo, ReturnSetInfo *result) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
    return false;
  if (TextView(PG_GETARG_TEXT_PP(0)) != kMethod)
    return false;
  std::string_view path = TextView(PG_GETARG_TEXT_PP(1));
  if (path.substr(0, path.find('?')) != kPath)
    return false;
  Jsonb *headers = PG_GETARG_JSONB_P(2);
  if (!JB_ROOT_IS_OBJECT(headers))
    return false;
  for (int i = 0; i < router.tenant_header_count; ++i) {
    JsonbValue ignored;
    const char *name = router.tenant_headers[i];
    if (getKeyJsonValueFromContainer(&headers->root, name, static_cast<int>(std::strlen(name)), &ignored) != nullptr)
      return false;
  }
  std::string_view bearer;
  if (!BearerToken(headers, &bearer))
    return false;

  const authflow::pg::TokenArgument token = authflow::pg::ParseToken(bearer, authflow::TokenKind::access);
  text *body = authflow::pg::SessionJson(token, TextView(DatumGetTextPP(router.default_tenant)));
  if (body == nullptr) {
    PutRow(result, FunctionCall2(&router.refused, PointerGetDatum(headers), router.default_tenant));
    return true;
  }
  Datum values[3] = {Int32GetDatum(200), router.ok_headers, PointerGetDatum(body)};
  bool nulls[3] = {false, false, false};
  tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
  return true;
}

} // namespace

// authflow_http serves the hot route or hands the request to http_serve (one row either way).
AUTHFLOW_SQL_FUNCTION(authflow_http) {
  ReturnSetInfo *result = authflow::pg::MaterializeResult(fcinfo, "authflow.http", {INT4OID, JSONBOID, TEXTOID});
  if (!router.valid)
    ResolveRouter(fcinfo->flinfo->fn_oid);
  if (ServeSessionCurrent(fcinfo, result))
    return static_cast<Datum>(0);
  LOCAL_FCINFO(call, 4);
  InitFunctionCallInfoData(*call, &router.serve, 4, InvalidOid, nullptr, nullptr);
  for (int i = 0; i < 4; ++i) {
    call->args[i].isnull = PG_ARGISNULL(i);
    call->args[i].value = call->args[i].isnull ? static_cast<Datum>(0) : PG_GETARG_DATUM(i);
  }
  const Datum row = FunctionCallInvoke(call);
  if (!call->isnull)
    PutRow(result, row);
  return static_cast<Datum>(0);
}
