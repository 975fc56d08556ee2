/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type CircuitBreakerState =
  | 'CLOSED'
  | 'HALF_OPEN'
  | 'OPEN';

/** Why an operation did not succeed; the frontend maps each code to words. */
export type ErrorCode =
  | 'ALREADY_SUBSCRIBED'
  | 'INVALID_API_KEY'
  | 'KEY_LIMIT_REACHED'
  | 'LITELLM_UNAVAILABLE'
  | 'MODEL_ACCESS_DENIED'
  | 'NOT_FOUND'
  | 'USER_NOT_FOUND_LITELLM'
  | 'VALIDATION_FAILED';

export type HealthStatus =
  | 'DEGRADED'
  | 'DOWN'
  | 'OK';

export type LitellmSyncStatus =
  | 'ERROR'
  | 'PENDING'
  | 'SYNCED';

export type SubscriptionStatus =
  | 'ACTIVE'
  | 'CANCELLED'
  | 'DENIED'
  | 'EXPIRED'
  | 'PENDING'
  | 'SUSPENDED';

export type CurrentUserFragment = { readonly id: string, readonly username: string, readonly email: string, readonly fullName: string | null, readonly roles: ReadonlyArray<string>, readonly litellmSyncStatus: LitellmSyncStatus, readonly litellmSyncError: string | null };

export type DatabaseHealthPanelFragment = { readonly status: HealthStatus, readonly latencyMs: number | null, readonly error: string | null };

export type LitellmHealthPanelFragment = { readonly status: HealthStatus, readonly latencyMs: number | null, readonly lastSync: unknown, readonly lastProbeAt: unknown, readonly circuitBreaker: CircuitBreakerState, readonly consecutiveFailures: number, readonly error: string | null };

export type HealthDashboardQueryVariables = Exact<{ [key: string]: never; }>;


export type HealthDashboardQuery = { readonly health: { readonly status: HealthStatus, readonly database: { readonly status: HealthStatus, readonly latencyMs: number | null, readonly error: string | null }, readonly litellm: { readonly status: HealthStatus, readonly latencyMs: number | null, readonly lastSync: unknown, readonly lastProbeAt: unknown, readonly circuitBreaker: CircuitBreakerState, readonly consecutiveFailures: number, readonly error: string | null } } };

export type LoginStateQueryVariables = Exact<{ [key: string]: never; }>;


export type LoginStateQuery = { readonly me: { readonly id: string, readonly username: string, readonly email: string, readonly fullName: string | null, readonly roles: ReadonlyArray<string>, readonly litellmSyncStatus: LitellmSyncStatus, readonly litellmSyncError: string | null } | null };

export type SubscriptionCreateMutationVariables = Exact<{
  modelId: string | number;
}>;


export type SubscriptionCreateMutation = { readonly subscriptionCreate:
    | { readonly __typename: 'AlreadySubscribedError', readonly code: ErrorCode, readonly message: string }
    | { readonly __typename: 'LitellmUnavailableError', readonly code: ErrorCode, readonly message: string }
    | { readonly __typename: 'NotFoundError', readonly code: ErrorCode, readonly message: string }
    | { readonly __typename: 'SubscriptionCreateSuccess', readonly subscription: { readonly id: string, readonly status: SubscriptionStatus, readonly modelId: string, readonly createdAt: unknown } }
    | { readonly __typename: 'UserNotFoundLitellmError', readonly code: ErrorCode, readonly message: string }
   };

export const CurrentUserFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"CurrentUser"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"User"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"username"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"fullName"}},{"kind":"Field","name":{"kind":"Name","value":"roles"}},{"kind":"Field","name":{"kind":"Name","value":"litellmSyncStatus"}},{"kind":"Field","name":{"kind":"Name","value":"litellmSyncError"}}]}}]} as unknown as DocumentNode<CurrentUserFragment, unknown>;
export const DatabaseHealthPanelFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DatabaseHealthPanel"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DatabaseHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]} as unknown as DocumentNode<DatabaseHealthPanelFragment, unknown>;
export const LitellmHealthPanelFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"LitellmHealthPanel"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"LitellmHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"lastSync"}},{"kind":"Field","name":{"kind":"Name","value":"lastProbeAt"}},{"kind":"Field","name":{"kind":"Name","value":"circuitBreaker"}},{"kind":"Field","name":{"kind":"Name","value":"consecutiveFailures"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]} as unknown as DocumentNode<LitellmHealthPanelFragment, unknown>;
export const HealthDashboardDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"HealthDashboard"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"health"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"database"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"DatabaseHealthPanel"}}]}},{"kind":"Field","name":{"kind":"Name","value":"litellm"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"LitellmHealthPanel"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DatabaseHealthPanel"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DatabaseHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"LitellmHealthPanel"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"LitellmHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"lastSync"}},{"kind":"Field","name":{"kind":"Name","value":"lastProbeAt"}},{"kind":"Field","name":{"kind":"Name","value":"circuitBreaker"}},{"kind":"Field","name":{"kind":"Name","value":"consecutiveFailures"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]} as unknown as DocumentNode<HealthDashboardQuery, HealthDashboardQueryVariables>;
export const LoginStateDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"LoginState"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"CurrentUser"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"CurrentUser"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"User"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"username"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"fullName"}},{"kind":"Field","name":{"kind":"Name","value":"roles"}},{"kind":"Field","name":{"kind":"Name","value":"litellmSyncStatus"}},{"kind":"Field","name":{"kind":"Name","value":"litellmSyncError"}}]}}]} as unknown as DocumentNode<LoginStateQuery, LoginStateQueryVariables>;
export const SubscriptionCreateDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SubscriptionCreate"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"modelId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"subscriptionCreate"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"modelId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"modelId"}}}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SubscriptionCreateSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"subscription"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"modelId"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UserError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<SubscriptionCreateMutation, SubscriptionCreateMutationVariables>;