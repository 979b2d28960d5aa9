from pimhub.bootstrap import Hub


def test_sample_product_is_stored_with_its_relations(sample: Hub) -> None:
    obj = sample.catalog.get_object("Product", "TS-1", include_drafts=False)
    assert obj.version == 1
    category = sample.catalog.get_object("Category", "men-tops", include_drafts=False)
    assert obj.values["category"] == category.uuid
