//! Apple's catalog as it stood on a given day: a GDMF document with the releases posted after it
//! left out (shared by the policy engine's bench and its tests).

/// `gdmf` (a GDMF JSON document) without the entries posted after `day` (`YYYY-MM-DD`).
pub fn gdmf_as_of(gdmf: &[u8], day: &str) -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(gdmf).expect("gdmf sample");
    for section in [
        "PublicAssetSets",
        "AssetSets",
        "PublicBackgroundSecurityImprovements",
    ] {
        if let Some(platforms) = doc.get_mut(section).and_then(|s| s.as_object_mut()) {
            for list in platforms.values_mut() {
                if let Some(items) = list.as_array_mut() {
                    items.retain(|i| i["PostingDate"].as_str().is_some_and(|d| d <= day));
                }
            }
        }
    }
    serde_json::to_vec(&doc).expect("json")
}
