"""The Magento 2 connector: client (OAuth 1.0a), mapping, incremental push, bulk, pull."""
