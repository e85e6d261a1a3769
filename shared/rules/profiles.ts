// Limits per rules profile. `alibaba`: ApsaraMQ for MQTT (docs/platform-facts.md §3). `mqtt`: the MQTT 5 specification.

export type ProfileName = 'alibaba' | 'mqtt'

export interface Profile {
  name: ProfileName
  /** Shortest and longest full topic (parent + subtopics); counted in characters (alibaba) or UTF-8 bytes (mqtt). */
  minTopicLength: number
  maxTopicLength: number
  /** Characters allowed in one topic level; undefined = any character except wildcards and NUL. */
  levelPattern?: RegExp
  /** Characters allowed in the client ID level of a /p2p/<clientId> subtopic. */
  p2pClientIdPattern?: RegExp
  /** Whether the parent topic must be a single level. */
  singleLevelParent: boolean
  maxPayloadBytes: number
  maxRules?: number
  maxParentTopics?: number
  userPropertyMaxBytes: number
}

export const PROFILES: Record<ProfileName, Profile> = {
  alibaba: {
    name: 'alibaba',
    minTopicLength: 3,
    maxTopicLength: 64,
    levelPattern: /^[A-Za-z0-9_-]+$/,
    p2pClientIdPattern: /^[A-Za-z0-9_@-]+$/,
    singleLevelParent: true,
    maxPayloadBytes: 64 * 1024,
    maxRules: 100,
    maxParentTopics: 25,
    userPropertyMaxBytes: 8 * 1024,
  },
  mqtt: {
    name: 'mqtt',
    minTopicLength: 1,
    maxTopicLength: 65535,
    singleLevelParent: false,
    // The MQTT remaining-length limit, less room for the fixed header, topic and properties.
    maxPayloadBytes: 256 * 1024 * 1024 - 1 - 65535 - 16 * 1024,
    userPropertyMaxBytes: 8 * 1024,
  },
}
