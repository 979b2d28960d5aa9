"""Bulk import and export: streaming readers, mappings from columns to fields, row reports."""
