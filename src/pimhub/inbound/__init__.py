"""Inbound: systems that send events to the hub (Magento orders, ERP stock feeds), verified,
de-duplicated and stored at /inbound/{source} before the 2xx, then routed through the outbox."""
