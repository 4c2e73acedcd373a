build/obj/src/route/route.o: src/route/route.c src/route/route.h \
 src/sla/sla.h
src/route/route.h:
src/sla/sla.h:
