# The `meter` command in a container: any verb, e.g. `docker run --env-file .env usage-meter ingest`.
#
# Build stage: the whole reactor with Maven and JDK 17. The jOOQ classes are generated during the
# build against an embedded PostgreSQL started by the build itself, so no database is needed here.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY . .
RUN mvn -B -ntp -DskipTests -pl cli -am package

# Final stage: a JRE only, the fat jar, and an unprivileged user.
FROM eclipse-temurin:17-jre
RUN groupadd --system --gid 10001 meter \
 && useradd --system --uid 10001 --gid meter --home-dir /home/meter --create-home meter \
 && mkdir -p /var/lib/meter \
 && chown meter:meter /var/lib/meter
COPY --from=build /src/cli/target/meter.jar /app/meter.jar
USER meter
WORKDIR /home/meter
# Kafka Streams state (aggregator, enforcer) lives here; mount a volume to keep it across restarts.
VOLUME ["/var/lib/meter"]
ENTRYPOINT ["java", "-jar", "/app/meter.jar"]
CMD ["--help"]
