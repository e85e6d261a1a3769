// The part of @alicloud/fc2 (which ships no types) that this project uses: the signed generic request
// and the static signature, as the fc3 component drives the 2023-03-30 API (docs/platform-facts.md §7).
declare module '@alicloud/fc2' {
  interface FcClientConfig {
    accessKeyID: string
    accessKeySecret: string
    securityToken?: string
    region: string
    endpoint?: string
    secure?: boolean
    internal?: boolean
    timeout?: number
    headers?: Record<string, string>
  }

  interface FcResponse {
    headers: Record<string, string | string[] | undefined>
    data: unknown
  }

  class FCClient {
    constructor(accountId: string, config: FcClientConfig)
    version: string
    post(
      path: string,
      body: Buffer | string | object,
      headers?: Record<string, string>,
      queries?: Record<string, string> | null,
      opts?: { rawBuf?: boolean },
    ): Promise<FcResponse>
    static getSignature(
      accessKeyID: string,
      accessKeySecret: string,
      method: string,
      path: string,
      headers: Record<string, string | string[] | undefined>,
      queries?: Record<string, string> | null,
    ): string
  }

  export = FCClient
}
