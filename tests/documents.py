"""GraphQL documents the tests send, as the frontend would."""

ME = "{ me { id username roles litellmSyncStatus litellmSyncError } }"

MODELS = """
query Models($includeUnavailable: Boolean! = false) {
  models(includeUnavailable: $includeUnavailable) {
    id name available subscription { id status }
  }
}
"""

SUBSCRIPTIONS = "{ subscriptions { id status model { id } } }"

SUBSCRIPTION_CREATE = """
mutation Subscribe($modelId: ID!) {
  subscriptionCreate(input: {modelId: $modelId}) {
    __typename
    ... on SubscriptionCreateSuccess { subscription { id status model { id } } }
    ... on UserError { code message }
  }
}
"""

SUBSCRIPTION_CANCEL = """
mutation Cancel($id: ID!) {
  subscriptionCancel(id: $id) {
    __typename
    ... on SubscriptionCancelSuccess { subscription { id status } }
    ... on UserError { code message }
  }
}
"""

API_KEYS = "{ apiKeys { id name prefix status expiresAt createdAt modelAccess { id } } }"

API_KEY = "query Key($id: ID!) { apiKey(id: $id) { id status modelAccess { id } } }"

API_KEY_CREATE = """
mutation CreateKey($input: ApiKeyCreateInput!) {
  apiKeyCreate(input: $input) {
    __typename
    ... on ApiKeyCreateSuccess { secret apiKey { id name prefix status modelAccess { id } } }
    ... on ModelAccessDeniedError { modelIds }
    ... on ValidationError { field }
    ... on UserError { code message }
  }
}
"""

API_KEY_REVOKE = """
mutation Revoke($id: ID!) {
  apiKeyRevoke(id: $id) {
    __typename
    ... on ApiKeyRevokeSuccess { apiKey { id status revokedAt } }
    ... on UserError { code message }
  }
}
"""

MODEL_ACCESS = """
query Access($model: ID!) {
  modelAccess(model: $model) {
    __typename
    ... on ModelAccessGranted { model { id } allowedModels { id } }
    ... on UserError { code message }
  }
}
"""

LITELLM_SYNC_RETRY = """
mutation { litellmSyncRetry {
  __typename
  ... on LitellmSyncRetrySuccess { user { litellmSyncStatus } }
  ... on UserError { code message }
} }
"""

HEALTH = """
{ health { status database { status }
  litellm { status latencyMs lastSync circuitBreaker consecutiveFailures } } }
"""
