// The only import surface of gateway/.
export { startGateway, proxyEnv, type Gateway, type GatewayOptions, type HostPort } from "./server.js";
export type {
  Approver,
  ApprovalView,
  MethodOverride,
  RoleResolver,
  SecretPlacement,
  SecurityAlert,
} from "./approver.js";
export type { AgentHooks } from "./control-api.js";
export type { InternalHandler } from "./proxy-server.js";
export { GatewayError, type GatewayErrorCode, ERROR_STATUS } from "./errors.js";
export { createCredentials, SECRET_NAME, AGENT_NAME } from "./credentials.js";
export { PLATFORM_SECRETS, revealPlatformSecret } from "./inject.js";
export { openDatabase, openSqliteSql, openSqliteStore, sqliteSql } from "./sqlite-store.js";
export { openPostgresStore } from "./postgres/postgres-store.js";
export { openPostgresSql, type PgOptions } from "./postgres/pg-sql.js";
export { ensureSchema } from "./sql-schema.js";
export type { Sql, SqlValue, Dialect } from "./sql.js";
export type { Leadership } from "./leadership.js";
export { asyncify, type Store, type Sync } from "./store.js";
export type { ApprovalRecord } from "./store.js";
export { createApprovals, type Approvals, type DecideResult } from "./approvals.js";
export type { MailboxEvents, OutboxMessage, PendingAsk, AgentStatus } from "./mailbox.js";
export { loadMasterKey, Vault } from "./vault.js";
export { createLog, type Log } from "./log.js";
export { testPolicy } from "./policy-test.js";
export { readPolicyDir } from "./policy-source.js";
export {
  createPolicyReplay,
  REPLAY_MAX_WINDOW_MS,
  type ReplayInput,
  type ReplayOutcome,
  type ReplayResult,
} from "./policy-replay.js";
export { toView } from "./approval-view.js";
