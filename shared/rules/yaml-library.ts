// The YAML library, for rules that are not JSON. The bridge's bundle replaces this module with one that
// requires the library from a file beside it on first use (scripts/build.ts): the bundled rules are JSON,
// so its 110 KB stay off every cold start.
import * as YAML from 'yaml'

export function yamlLibrary(): typeof YAML {
  return YAML
}
