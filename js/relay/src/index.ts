// @pg-nodesync/relay: a stateless WebSocket relay in front of pg_nodesync (README.md).
export const VERSION = "0.2.0";
export { startRelay, type RelayHandle, type RelayStats } from "./server.js";
export {
  loadConfig, checkConfig, parseListen, tokenAuthenticator, tokenOf, identityProblem, ConfigError,
  type RelayOptions, type Identity, type Authenticate,
} from "./config.js";
export {
  PROTOCOL, TOKEN_PROTOCOL_PREFIX, RelayCode, CloseCode, CALLS, parseRequest, encodeToken, tokenFromProtocols,
  type Call, type CallName, type ErrorBody, type RequestFrame, type ResultFrame, type ErrorFrame, type NotifyFrame,
  type ServerFrame, type HelloFrame, type RequestId, type ParseResult, type RelayCodeValue,
} from "./protocol.js";
