/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type HealthStatus =
  | 'DEGRADED'
  | 'DOWN'
  | 'OK';

export type LitellmSyncStatus =
  | 'ERROR'
  | 'PENDING'
  | 'SYNCED';

export type CurrentUserFragment = { readonly id: string, readonly username: string, readonly email: string, readonly fullName: string | null, readonly roles: ReadonlyArray<string>, readonly litellmSyncStatus: LitellmSyncStatus, readonly litellmSyncError: string | null };

export type DatabaseHealthPanelFragment = { readonly status: HealthStatus, readonly latencyMs: number | null, readonly error: string | null };

export type HealthDashboardQueryVariables = Exact<{ [key: string]: never; }>;


export type HealthDashboardQuery = { readonly health: { readonly status: HealthStatus, readonly database: { readonly status: HealthStatus, readonly latencyMs: number | null, readonly error: string | null } } };

export type LoginStateQueryVariables = Exact<{ [key: string]: never; }>;


export type LoginStateQuery = { readonly me: { readonly id: string, readonly username: string, readonly email: string, readonly fullName: string | null, readonly roles: ReadonlyArray<string>, readonly litellmSyncStatus: LitellmSyncStatus, readonly litellmSyncError: string | null } | null };

export const CurrentUserFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"CurrentUser"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"User"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"username"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"fullName"}},{"kind":"Field","name":{"kind":"Name","value":"roles"}},{"kind":"Field","name":{"kind":"Name","value":"litellmSyncStatus"}},{"kind":"Field","name":{"kind":"Name","value":"litellmSyncError"}}]}}]} as unknown as DocumentNode<CurrentUserFragment, unknown>;
export const DatabaseHealthPanelFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DatabaseHealthPanel"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DatabaseHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]} as unknown as DocumentNode<DatabaseHealthPanelFragment, unknown>;
export const HealthDashboardDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"HealthDashboard"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"health"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"database"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"DatabaseHealthPanel"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DatabaseHealthPanel"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"DatabaseHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]} as unknown as DocumentNode<HealthDashboardQuery, HealthDashboardQueryVariables>;
export const LoginStateDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"LoginState"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"CurrentUser"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"CurrentUser"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"User"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"username"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"fullName"}},{"kind":"Field","name":{"kind":"Name","value":"roles"}},{"kind":"Field","name":{"kind":"Name","value":"litellmSyncStatus"}},{"kind":"Field","name":{"kind":"Name","value":"litellmSyncError"}}]}}]} as unknown as DocumentNode<LoginStateQuery, LoginStateQueryVariables>;